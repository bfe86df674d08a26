import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Clock } from '../util/clock.js';
import { BerthError } from '../util/errors.js';

export const REGISTRY_TOKEN_ALG = 'ES256';

interface KeyPair {
  readonly kid: string;
  readonly privateKey: CryptoKey | Uint8Array;
  readonly publicKey: CryptoKey | Uint8Array;
}

/**
 * Registry-token signing keys, persisted in the database so every replica signs and verifies with the same keys.
 * Rotation adds a new current key and retires the old one, which still verifies tokens until they expire.
 *
 * With a key-encryption key (config auth.keyEncryptionKey) the private keys are stored sealed (AES-256-GCM), so a
 * copy of the database (a backup, a file another local user could read) does not let anyone mint tokens.
 */
export class SigningKeys {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #seal: KeySeal | null;
  #current: KeyPair | null = null;
  readonly #verifiers = new Map<string, CryptoKey | Uint8Array>();

  constructor(deps: { db: Db; clock: Clock; keyEncryptionKey?: string | null }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#seal = deps.keyEncryptionKey ? new KeySeal(deps.keyEncryptionKey) : null;
  }

  /**
   * Seals every private key still stored in clear; returns how many. A no-op without a key-encryption key.
   * Replicas starting together may race: each row is rewritten only if it is still the plaintext read.
   */
  async sealStored(): Promise<number> {
    const seal = this.#seal;
    if (!seal) return 0;
    const rows = await this.#db.selectFrom('signingKeys').select(['kid', 'privateJwk']).execute();
    let sealed = 0;
    for (const row of rows.filter((r) => !KeySeal.isSealed(r.privateJwk))) {
      const res = await this.#db.updateTable('signingKeys').set({ privateJwk: seal.seal(row.kid, row.privateJwk) })
        .where('kid', '=', row.kid).where('privateJwk', '=', row.privateJwk).executeTakeFirst();
      sealed += Number(res.numUpdatedRows);
    }
    return sealed;
  }

  async current(): Promise<KeyPair> {
    if (this.#current) return this.#current;
    let row = await this.#db.selectFrom('signingKeys').selectAll().where('retiredAt', 'is', null).orderBy('createdAt', 'desc').executeTakeFirst();
    if (!row) {
      await this.rotate();
      row = await this.#db.selectFrom('signingKeys').selectAll().where('retiredAt', 'is', null).orderBy('createdAt', 'desc').executeTakeFirstOrThrow();
    }
    this.#current = {
      kid: row.kid,
      privateKey: await importJWK(JSON.parse(this.#open(row.kid, row.privateJwk)) as JWK, REGISTRY_TOKEN_ALG),
      publicKey: await importJWK(JSON.parse(row.publicJwk) as JWK, REGISTRY_TOKEN_ALG),
    };
    return this.#current;
  }

  /** The public key for `kid`, current or retired; null for a key this registry never had. */
  async verifier(kid: string): Promise<CryptoKey | Uint8Array | null> {
    const cached = this.#verifiers.get(kid);
    if (cached) return cached;
    const row = await this.#db.selectFrom('signingKeys').select('publicJwk').where('kid', '=', kid).executeTakeFirst();
    if (!row) return null;
    const key = await importJWK(JSON.parse(row.publicJwk) as JWK, REGISTRY_TOKEN_ALG);
    this.#verifiers.set(kid, key);
    return key;
  }

  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(REGISTRY_TOKEN_ALG, { extractable: true });
    const kid = randomUUID();
    const now = this.#clock.now();
    // READ COMMITTED: two replicas rotating at once (both starting on an empty table) each retire the keys they see
    // and add one; both keys stay valid, and `current()` picks the newest, so nothing breaks.
    await transaction(this.#db, async (tx) => {
      await tx.updateTable('signingKeys').set({ retiredAt: now }).where('retiredAt', 'is', null).execute();
      await tx.insertInto('signingKeys').values({
        kid, privateJwk: this.#sealed(kid, JSON.stringify(await exportJWK(privateKey))), publicJwk: JSON.stringify(await exportJWK(publicKey)), createdAt: now, retiredAt: null,
      }).execute();
    });
    this.#current = null;
    return kid;
  }

  #sealed(kid: string, jwk: string): string {
    return this.#seal ? this.#seal.seal(kid, jwk) : jwk;
  }

  #open(kid: string, stored: string): string {
    if (!KeySeal.isSealed(stored)) return stored;
    if (!this.#seal) throw keyEncryption('the registry-token signing keys are encrypted at rest: set auth.keyEncryptionKey to the key they were encrypted with');
    return this.#seal.open(kid, stored);
  }
}

const SEALED = 'enc:v1:';

/**
 * AES-256-GCM under a key derived (HKDF-SHA256) from the configured secret. The kid (or another context string)
 * is authenticated with the ciphertext, so a sealed value cannot be moved to another row. Stored as `enc:v1:<iv>.<ciphertext>.<tag>` (base64url).
 */
export class KeySeal {
  readonly #key: Buffer;

  /** `purpose` separates the keys derived for each kind of secret (signing keys, webhook secrets). */
  constructor(secret: string, purpose = 'registry-token signing keys') {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'berth', purpose, 32));
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(SEALED);
  }

  seal(kid: string, plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv).setAAD(Buffer.from(kid));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${SEALED}${[iv, data, cipher.getAuthTag()].map((b) => b.toString('base64url')).join('.')}`;
  }

  open(kid: string, stored: string): string {
    const [iv, data, tag] = stored.slice(SEALED.length).split('.').map((p) => Buffer.from(p, 'base64url'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv!).setAAD(Buffer.from(kid)).setAuthTag(tag!);
      return Buffer.concat([decipher.update(data!), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw keyEncryption('auth.keyEncryptionKey does not decrypt the stored signing keys: it differs from the key they were encrypted with', cause);
    }
  }
}

function keyEncryption(message: string, cause?: unknown): BerthError {
  return new BerthError({ status: 500, code: 'KEY_ENCRYPTION', message, cause });
}
