// The certificate chain in the envelope (signing certificate first, root last) and the requirements
// signature-specification.md "Certificate Requirements" places on it, independent of any trust store.
import { X509Certificate as NodeCertificate } from 'node:crypto';
import { invalid } from './envelope.js';
import * as x509 from './x509.js';

export interface ChainCertificate {
  der: Uint8Array;
  node: NodeCertificate;
  parsed: x509.X509Certificate;
  /** The subject DN in the certificate's own order, as trust policies write it ("C=US, ST=WA, O=Acme, CN=ci"). */
  subject: string;
}

const EKU_ANY = '2.5.29.37.0';
/** Extended key usages a signing certificate must not have (Leaf Certificates, Extended Key Usage). */
const FORBIDDEN_SIGNING_EKU: Record<string, string> = {
  [EKU_ANY]: 'anyExtendedKeyUsage',
  [x509.ExtendedKeyUsage.serverAuth]: 'serverAuth',
  [x509.ExtendedKeyUsage.clientAuth]: 'clientAuth',
  [x509.ExtendedKeyUsage.emailProtection]: 'emailProtection',
  [x509.ExtendedKeyUsage.timeStamping]: 'timeStamping',
};
/** Key usages a signing certificate must not have (Leaf Certificates, Key Usage). */
const FORBIDDEN_SIGNING_KEY_USAGE: [x509.KeyUsageFlags, string][] = [
  [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
  [x509.KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [x509.KeyUsageFlags.decipherOnly, 'decipherOnly'],
];

/** Far beyond real chains (leaf, an intermediate or two, root); bounds the work an envelope can ask for. */
const MAX_CHAIN_LENGTH = 10;

export function parseChain(ders: readonly Uint8Array[]): ChainCertificate[] {
  if (ders.length > MAX_CHAIN_LENGTH) {
    invalid(
      `The certificate chain has ${ders.length} certificates; Berth accepts at most ${MAX_CHAIN_LENGTH}.`,
    );
  }
  return ders.map((der, index) => {
    try {
      const parsed = new x509.X509Certificate(der);
      return { der, node: new NodeCertificate(der), parsed, subject: parsed.subject };
    } catch {
      return invalid(`Certificate ${index + 1} of the chain is not a valid DER X.509 certificate.`);
    }
  });
}

/** Chain order, issuer signatures, and the extension and key rules for leaf and CA certificates. */
export function checkCertificateRequirements(chain: readonly ChainCertificate[]): void {
  const leaf = chain[0];
  const root = chain[chain.length - 1];
  if (!leaf || !root) invalid('The envelope carries no certificate chain.');

  for (const [index, cert] of chain.entries()) {
    const hash = signatureHash(cert);
    if (hash === 'SHA-1' || hash?.startsWith('MD')) {
      invalid(`Certificate ${name(cert)} is signed with ${hash}, which the Notary Project forbids.`);
    }
    // The list is ordered: each certificate is issued by the next one, and the last one is a root.
    const issuer = chain[index + 1] ?? cert;
    if (!issuedBy(cert, issuer) || !cert.node.verify(issuer.node.publicKey)) {
      invalid(
        issuer === cert
          ? `The certificate chain does not end with a self-signed root certificate (last: ${name(cert)}).`
          : `Certificate ${name(cert)} is not issued by the next certificate in the chain, ${name(issuer)}.`,
      );
    }
    // A chain of one certificate is a root that must meet the leaf requirements instead (Other requirements).
    if (index === 0) checkSigningCertificate(cert);
    else checkCaCertificate(cert, index - 1);
  }
}

function checkSigningCertificate(cert: ChainCertificate): void {
  const constraints = cert.parsed.getExtension(x509.BasicConstraintsExtension);
  if (constraints?.ca) invalid(`The signing certificate ${name(cert)} is a CA certificate.`);
  const keyUsage = cert.parsed.getExtension(x509.KeyUsagesExtension);
  if (!keyUsage?.critical) {
    invalid(`The signing certificate ${name(cert)} has no critical key usage extension.`);
  }
  if (!(keyUsage.usages & x509.KeyUsageFlags.digitalSignature)) {
    invalid(`The signing certificate ${name(cert)} does not allow digitalSignature key usage.`);
  }
  const extra = FORBIDDEN_SIGNING_KEY_USAGE.filter(([flag]) => keyUsage.usages & flag).map(
    ([, usage]) => usage,
  );
  if (extra.length > 0) {
    invalid(
      `The signing certificate ${name(cert)} also allows ${extra.join(', ')}; a signing key may only sign.`,
    );
  }
  const eku = cert.parsed.getExtension(x509.ExtendedKeyUsageExtension);
  for (const usage of eku?.usages ?? []) {
    const forbidden = FORBIDDEN_SIGNING_EKU[String(usage)];
    if (forbidden) invalid(`The signing certificate ${name(cert)} has the extended key usage ${forbidden}.`);
  }
  const key = cert.node.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if ((key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && (bits ?? 0) < 2048) {
    invalid(`The signing certificate ${name(cert)} has an RSA key shorter than 2048 bits.`);
  }
}

/** `below`: how many CA certificates sit between this one and the signing certificate. */
function checkCaCertificate(cert: ChainCertificate, below: number): void {
  const constraints = cert.parsed.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.critical || !constraints.ca) {
    invalid(`The CA certificate ${name(cert)} lacks a critical basic constraints extension with cA=true.`);
  }
  if (constraints.pathLength !== undefined && below > constraints.pathLength) {
    invalid(`The CA certificate ${name(cert)} allows ${constraints.pathLength} intermediates below it.`);
  }
  const keyUsage = cert.parsed.getExtension(x509.KeyUsagesExtension);
  if (!keyUsage?.critical || !(keyUsage.usages & x509.KeyUsageFlags.keyCertSign)) {
    invalid(`The CA certificate ${name(cert)} lacks a critical key usage extension with keyCertSign.`);
  }
}

/**
 * The issuer name is byte-for-byte the issuer's subject name (as Go's crypto/x509 compares them). Not OpenSSL's
 * checkIssued: it also demands keyCertSign of the issuer, which a one-certificate chain's root lacks by design.
 */
function issuedBy(cert: ChainCertificate, issuer: ChainCertificate): boolean {
  const issuerName = Buffer.from(cert.parsed.issuerName.toArrayBuffer());
  return issuerName.equals(Buffer.from(issuer.parsed.subjectName.toArrayBuffer()));
}

/** The first certificate of the chain that is not valid at `time`, if any. */
export function invalidAt(chain: readonly ChainCertificate[], time: Date): ChainCertificate | undefined {
  return chain.find((cert) => time < cert.parsed.notBefore || time > cert.parsed.notAfter);
}

export function validity(cert: ChainCertificate): string {
  return `valid from ${cert.parsed.notBefore.toISOString()} to ${cert.parsed.notAfter.toISOString()}`;
}

export function name(cert: ChainCertificate): string {
  return `"${cert.subject}"`;
}

function signatureHash(cert: ChainCertificate): string | undefined {
  try {
    const algorithm = cert.parsed.signatureAlgorithm as { hash?: { name?: string } };
    return algorithm.hash?.name?.toUpperCase();
  } catch {
    return undefined;
  }
}
