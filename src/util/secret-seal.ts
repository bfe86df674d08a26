/**
 * Encrypts a value at rest, bound to a context string, for secrets Berth must send or use again and so cannot hash
 * (webhook HMAC keys, a mirror's upstream password). auth's KeySeal, given by the composition root.
 */
export interface SecretSeal {
  seal(context: string, plaintext: string): string;
  open(context: string, stored: string): string;
}
