/**
 * TLS client certificates for the API server's x509 authentication (--client-ca-file), made with openssl:
 * the subject's CN is the user name, each O a group.
 */
import { run } from "./process.ts";
import type { ServerCert, TestCa } from "./tls.ts";

/** Issues an EC P-256 client certificate from `ca` for `user` in `groups`, as `<user>.pem` / `<user>.key`. */
export async function issueClientCert(
  ca: TestCa,
  dir: string,
  user: string,
  ...groups: string[]
): Promise<ServerCert> {
  const certFile = `${dir}/${user}.pem`;
  const keyFile = `${dir}/${user}.key`;
  const csrFile = `${dir}/${user}.csr`;
  const extFile = `${dir}/${user}.ext`;
  const subject = groups.map((group) => `/O=${group}`).join("") + `/CN=${user}`;
  await run("openssl", [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    csrFile,
    "-subj",
    subject,
  ]);
  Deno.writeTextFileSync(
    extFile,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
    ]
      .join("\n") + "\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csrFile,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-set_serial",
    String(Date.now()),
    "-days",
    "2",
    "-extfile",
    extFile,
    "-out",
    certFile,
  ]);
  return { certFile, keyFile };
}
