import { digestInvalid } from './errors.js';

/** A validated `algorithm:hex` digest (image-spec "Digests"); only sha256 and sha512 are registered. */
export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export function parseDigest(text: string): Digest {
  const colon = text.indexOf(':');
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  if (colon < 1) throw digestInvalid(`"${truncate(text)}" is not a digest (want algorithm:hex)`);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw digestInvalid(`unsupported digest algorithm "${truncate(algorithm)}" (sha256 and sha512 are supported)`);
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw digestInvalid(`"${truncate(text)}" is not a valid ${algorithm} digest (want ${HEX_LENGTH[algorithm]} lowercase hex characters)`);
  }
  return text as Digest;
}

export function isDigest(text: string): boolean {
  return /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(text);
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function makeDigest(algorithm: DigestAlgorithm, hex: string): Digest {
  return `${algorithm}:${hex}` as Digest;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
