/**
 * Certificates made with the openssl command line, independently of notariat's own certificate code: the CA and
 * serving certificate of each HTTPS server the harness starts (pebble, the ACME proxy, kube-apiserver), a client
 * certificate for kube-apiserver's x509 authentication, a root
 * and intermediate that sign notariat's CSRs, and self-signed certificates for Secrets that hold odd things.
 * Every key is EC P-256.
 */
import { run } from "./process.ts";

/** A certificate authority whose files are in `dir`. */
export interface OpensslCa {
  dir: string;
  /** The root certificate (PEM): what a client trusts. */
  rootPem: string;
  rootFile: string;
  /** The intermediate that signs leaves (PEM), what a leaf's chain carries; "" when the root signs them. */
  intermediatePem: string;
  /** Signs a PEM CSR (with the intermediate when there is one), copying its SANs; returns the leaf PEM. */
  signCsr(csrPem: string, days?: number): Promise<string>;
  /** Makes a key and a leaf for it, as `<name>.key` and `<name>.pem` in `dir`. */
  issueLeaf(name: string, options: LeafOptions): Promise<OpensslLeaf>;
  /** Deletes `dir` and everything in it. */
  remove(): void;
}

/** How to make a CA. */
export interface CaOptions {
  /** Names the subjects: `<name> Root`, `<name> Intermediate`. */
  name: string;
  /** Where the files go (created if missing); default: a new temporary directory. */
  dir?: string;
  /** How long the CA certificates are valid (default 30 days). */
  days?: number;
  /** Whether an intermediate signs the leaves (default true); without it the root does. */
  intermediate?: boolean;
}

/** What a leaf made by `issueLeaf` says. */
export interface LeafOptions {
  /** e.g. "/CN=localhost". */
  subject: string;
  /** subjectAltName entries, e.g. ["DNS:a.alpha.test"] or ["IP:127.0.0.1", "DNS:localhost"]; none: no SAN. */
  sans: string[];
  /** Default 10. */
  days?: number;
  /** Marks it a TLS server or client certificate (CA:FALSE, digitalSignature, serverAuth or clientAuth). */
  usage?: "server" | "client";
}

/** A leaf and its key, as PEM and as the files servers read. */
export interface OpensslLeaf {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

/** The options of `openssl req` for a new EC P-256 key, unencrypted. */
const EC_P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
const CA_EXTENSIONS = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"];
/** The extensions of a TLS server or client certificate. */
function usageExtensions(usage: "server" | "client"): string[] {
  return [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    `extendedKeyUsage=${usage === "server" ? "serverAuth" : "clientAuth"}`,
  ];
}

/** `openssl req -x509`: a new key and a self-signed certificate with `extensions`, written to the two files. */
async function selfSign(
  subject: string,
  days: number,
  extensions: string[],
  files: { cert: string; key: string },
): Promise<void> {
  await run("openssl", [
    "req",
    "-x509",
    ...EC_P256,
    "-keyout",
    files.key,
    "-out",
    files.cert,
    "-subj",
    subject,
    "-days",
    String(days),
    ...extensions.flatMap((e) => ["-addext", e]),
  ]);
}

/** `openssl x509 -req`: signs the CSR file with the signer's certificate and key. */
async function signRequest(
  signer: { cert: string; key: string },
  csrFile: string,
  outFile: string,
  options: { serial: number; days: number; extFile?: string; copyExtensions?: boolean },
): Promise<void> {
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csrFile,
    "-CA",
    signer.cert,
    "-CAkey",
    signer.key,
    "-set_serial",
    String(options.serial),
    "-days",
    String(options.days),
    ...(options.extFile === undefined ? [] : ["-extfile", options.extFile]),
    ...(options.copyExtensions ? ["-copy_extensions", "copy"] : []),
    "-out",
    outFile,
  ]);
}

/** Makes a CA with openssl: a root, and by default an intermediate signed by it that signs the leaves. */
export async function createOpensslCa(options: CaOptions): Promise<OpensslCa> {
  const dir = options.dir ?? Deno.makeTempDirSync({ prefix: "notariat-openssl-ca-" });
  Deno.mkdirSync(dir, { recursive: true });
  const days = options.days ?? 30;
  const root = { cert: `${dir}/root.pem`, key: `${dir}/root.key` };
  await selfSign(`/CN=${options.name} Root`, days, CA_EXTENSIONS, root);
  let signer = root;
  if (options.intermediate ?? true) {
    signer = { cert: `${dir}/int.pem`, key: `${dir}/int.key` };
    await run("openssl", [
      "req",
      "-new",
      ...EC_P256,
      "-keyout",
      signer.key,
      "-out",
      `${dir}/int.csr`,
      "-subj",
      `/CN=${options.name} Intermediate`,
    ]);
    Deno.writeTextFileSync(`${dir}/int.ext`, CA_EXTENSIONS.join("\n") + "\n");
    await signRequest(root, `${dir}/int.csr`, signer.cert, { serial: 2, days, extFile: `${dir}/int.ext` });
  }
  let serial = 100;
  return {
    dir,
    rootPem: Deno.readTextFileSync(root.cert),
    rootFile: root.cert,
    intermediatePem: signer === root ? "" : Deno.readTextFileSync(signer.cert),
    async signCsr(csrPem, leafDays = 10) {
      serial++;
      Deno.writeTextFileSync(`${dir}/leaf.csr`, csrPem);
      await signRequest(signer, `${dir}/leaf.csr`, `${dir}/leaf.pem`, {
        serial,
        days: leafDays,
        copyExtensions: true,
      });
      return Deno.readTextFileSync(`${dir}/leaf.pem`);
    },
    async issueLeaf(name, leaf) {
      serial++;
      const certFile = `${dir}/${name}.pem`;
      const keyFile = `${dir}/${name}.key`;
      await run("openssl", [
        "req",
        "-new",
        ...EC_P256,
        "-keyout",
        keyFile,
        "-out",
        `${dir}/${name}.csr`,
        "-subj",
        leaf.subject,
      ]);
      const extensions = [
        ...(leaf.usage === undefined ? [] : usageExtensions(leaf.usage)),
        ...(leaf.sans.length === 0 ? [] : [`subjectAltName=${leaf.sans.join(",")}`]),
      ];
      Deno.writeTextFileSync(`${dir}/${name}.ext`, extensions.join("\n") + "\n");
      await signRequest(signer, `${dir}/${name}.csr`, certFile, {
        serial,
        days: leaf.days ?? 10,
        extFile: `${dir}/${name}.ext`,
      });
      return {
        certPem: Deno.readTextFileSync(certFile),
        keyPem: Deno.readTextFileSync(keyFile),
        certFile,
        keyFile,
      };
    },
    remove() {
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** The TLS material of one HTTPS server the harness starts: the CA its clients trust, and its certificate. */
export interface ServerTls {
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * A CA valid for two days and a serving certificate from it for 127.0.0.1 and localhost (clients built on
 * rustls, like Deno's fetch, need the IP in the SAN), as files in `<dir>/<name>-tls`.
 */
export async function serverTls(dir: string, name: string): Promise<ServerTls> {
  const ca = await createOpensslCa({
    name: `notariat test ${name}`,
    dir: `${dir}/${name}-tls`,
    days: 2,
    intermediate: false,
  });
  const cert = await ca.issueLeaf(name, {
    subject: "/CN=localhost",
    sans: ["IP:127.0.0.1", "DNS:localhost"],
    days: 2,
    usage: "server",
  });
  return { caPem: ca.rootPem, caFile: ca.rootFile, certFile: cert.certFile, keyFile: cert.keyFile };
}

/** A client certificate for the API server's x509 authentication and the CA its --client-ca-file names. */
export interface ClientTls extends OpensslLeaf {
  caFile: string;
}

/**
 * A CA valid for two days and a client certificate from it for `user` in `groups` (the subject's CN is the
 * user name, each O a group, as kube-apiserver reads them), as files in `<dir>/<user>-client-tls`.
 */
export async function clientTls(dir: string, user: string, ...groups: string[]): Promise<ClientTls> {
  const ca = await createOpensslCa({
    name: `notariat test ${user} client`,
    dir: `${dir}/${user}-client-tls`,
    days: 2,
    intermediate: false,
  });
  const subject = groups.map((group) => `/O=${group}`).join("") + `/CN=${user}`;
  const cert = await ca.issueLeaf(user, { subject, sans: [], days: 2, usage: "client" });
  return { ...cert, caFile: ca.rootFile };
}

/** What a self-signed certificate says. */
export interface SelfSignedOptions {
  subject: string;
  sans: string[];
  /** Whether it is marked a CA (openssl marks a self-signed certificate one unless told otherwise). */
  ca: boolean;
  /** Default 30. */
  days?: number;
}

/** A self-signed certificate (PEM and DER) and its key, made in a directory removed afterwards. */
export async function selfSignedCertificate(
  options: SelfSignedOptions,
): Promise<{ certPem: string; keyPem: string; der: Uint8Array }> {
  const dir = Deno.makeTempDirSync({ prefix: "notariat-self-signed-" });
  try {
    const files = { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
    await selfSign(options.subject, options.days ?? 30, [
      `basicConstraints=critical,CA:${options.ca ? "TRUE" : "FALSE"}`,
      `subjectAltName=${options.sans.join(",")}`,
    ], files);
    await run("openssl", ["x509", "-in", files.cert, "-outform", "DER", "-out", `${dir}/cert.der`]);
    return {
      certPem: Deno.readTextFileSync(files.cert),
      keyPem: Deno.readTextFileSync(files.key),
      der: Deno.readFileSync(`${dir}/cert.der`),
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
