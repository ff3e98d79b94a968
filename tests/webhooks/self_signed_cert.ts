/**
 * Self-signed TLS certificates made at test time with `openssl`, so no key
 * lives in the repository.
 */

/** A certificate and its private key, in PEM. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

/**
 * A self-signed P-256 certificate valid for one day for the DNS name
 * `name` (subject and subjectAltName), and its key.
 */
export async function selfSignedCert(name: string): Promise<CertificatePair> {
  const dir = await Deno.makeTempDir({ prefix: "webhook_tls_" });
  try {
    // A leaf (CA:FALSE): rustls refuses a CA certificate as the server's own.
    await Deno.writeTextFile(
      `${dir}/openssl.cnf`,
      [
        "[req]",
        "distinguished_name = subject",
        "x509_extensions = leaf",
        "prompt = no",
        "[subject]",
        `CN = ${name}`,
        "[leaf]",
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = serverAuth",
        `subjectAltName = DNS:${name}`,
        "",
      ].join("\n"),
    );
    const { success, stderr } = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-config",
        `${dir}/openssl.cnf`,
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
        "-days",
        "1",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(
        `Cannot make a certificate for ${name}: ${
          new TextDecoder().decode(stderr)
        }`,
      );
    }
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
