import type { SecretSeal } from '../util/secret-seal.js';

/**
 * Hook secrets are HMAC keys Berth must use on every delivery, so they cannot be hashed: with auth.keyEncryptionKey
 * they are sealed (AES-256-GCM, bound to the hook id); without it they are stored as given (README "Webhooks").
 */
export class HookSecrets {
  readonly #seal: SecretSeal | null;

  constructor(seal: SecretSeal | null) {
    this.#seal = seal;
  }

  toStored(hookId: number, secret: string | null): string | null {
    if (secret === null || secret === '') return null;
    return this.#seal ? this.#seal.seal(`hook:${hookId}`, secret) : secret;
  }

  open(hookId: number, stored: string | null): string | null {
    if (stored === null) return null;
    return this.#seal ? this.#seal.open(`hook:${hookId}`, stored) : stored;
  }
}
