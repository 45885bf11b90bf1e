/**
 * A small CA made with the openssl command line, an implementation independent of the code under test:
 * a root, an intermediate, and leaves signed from CSRs produced by notariat.
 */
import { run } from "../harness/process.ts";

export interface TestCa {
  dir: string;
  rootPem: string;
  intermediatePem: string;
  /** Signs a PEM CSR with the intermediate, copying its SANs; returns the leaf PEM. */
  signLeaf(csrPem: string, days?: number): Promise<string>;
  remove(): void;
}

const CA_EXTENSIONS = "[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";

export async function createTestCa(name = "Test"): Promise<TestCa> {
  const dir = Deno.makeTempDirSync({ prefix: "notariat-pki-test-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  Deno.writeTextFileSync(`${dir}/ca.cnf`, CA_EXTENSIONS);
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${dir}/root.key`,
    "-out",
    `${dir}/root.pem`,
    "-subj",
    `/CN=${name} Root`,
    "-days",
    "30",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", [
    "req",
    "-new",
    ...ec,
    "-keyout",
    `${dir}/int.key`,
    "-out",
    `${dir}/int.csr`,
    "-subj",
    `/CN=${name} Intermediate`,
  ]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    `${dir}/int.csr`,
    "-CA",
    `${dir}/root.pem`,
    "-CAkey",
    `${dir}/root.key`,
    "-set_serial",
    "2",
    "-days",
    "30",
    "-extfile",
    `${dir}/ca.cnf`,
    "-extensions",
    "v3_ca",
    "-out",
    `${dir}/int.pem`,
  ]);
  let serial = 100;
  return {
    dir,
    rootPem: Deno.readTextFileSync(`${dir}/root.pem`),
    intermediatePem: Deno.readTextFileSync(`${dir}/int.pem`),
    async signLeaf(csrPem: string, days = 10): Promise<string> {
      serial++;
      Deno.writeTextFileSync(`${dir}/leaf.csr`, csrPem);
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        `${dir}/leaf.csr`,
        "-CA",
        `${dir}/int.pem`,
        "-CAkey",
        `${dir}/int.key`,
        "-set_serial",
        String(serial),
        "-days",
        String(days),
        "-copy_extensions",
        "copy",
        "-out",
        `${dir}/leaf.pem`,
      ]);
      return Deno.readTextFileSync(`${dir}/leaf.pem`);
    },
    remove() {
      Deno.removeSync(dir, { recursive: true });
    },
  };
}
