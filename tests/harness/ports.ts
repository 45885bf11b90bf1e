/** Picks a port on 127.0.0.1 that is free for both TCP and UDP right now (DNS servers need both). */
export function freePort(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (tcp.addr as Deno.NetAddr).port;
    try {
      const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
      udp.close();
      return port;
    } catch {
      // taken for UDP: try another
    } finally {
      tcp.close();
    }
  }
  throw new Error("no port on 127.0.0.1 is free for both TCP and UDP");
}
