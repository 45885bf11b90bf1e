/**
 * Throw-away TLS material for the servers the tests start (pebble's and kube-apiserver's HTTPS listeners), made
 * with openssl so it does not depend on notariat's own certificate code.
 */
import { run } from "./process.ts";

/** A CA made for one server start: the PEM clients trust, and files for signing with it. */
export interface TestCa {
  certPem: string;
  certFile: string;
  keyFile: string;
}

/** A serving certificate and its key, as files (what servers read). */
export interface ServerCert {
  certFile: string;
  keyFile: string;
}

const EC_P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Makes a self-signed EC P-256 CA valid for two days in `dir`, named `<name>-ca.pem` / `<name>-ca.key`. */
export async function makeTestCa(dir: string, name: string): Promise<TestCa> {
  const certFile = `${dir}/${name}-ca.pem`;
  const keyFile = `${dir}/${name}-ca.key`;
  await run("openssl", [
    "req",
    "-x509",
    ...EC_P256,
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    `/CN=notariat test ${name} CA`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { certPem: Deno.readTextFileSync(certFile), certFile, keyFile };
}

/**
 * Issues an EC P-256 serving certificate from `ca` for 127.0.0.1 and localhost (clients built on rustls, like
 * Deno's fetch, need the IP in the SAN), as `<name>.pem` / `<name>.key` in `dir`.
 */
export async function issueServerCert(ca: TestCa, dir: string, name: string): Promise<ServerCert> {
  const certFile = `${dir}/${name}.pem`;
  const keyFile = `${dir}/${name}.key`;
  const csrFile = `${dir}/${name}.csr`;
  const extFile = `${dir}/${name}.ext`;
  await run("openssl", [
    "req",
    "-new",
    ...EC_P256,
    "-keyout",
    keyFile,
    "-out",
    csrFile,
    "-subj",
    "/CN=localhost",
  ]);
  Deno.writeTextFileSync(
    extFile,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ].join("\n") + "\n",
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
