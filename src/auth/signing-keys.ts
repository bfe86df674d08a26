import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Clock } from '../util/clock.js';

export const REGISTRY_TOKEN_ALG = 'ES256';

interface KeyPair {
  readonly kid: string;
  readonly privateKey: CryptoKey | Uint8Array;
  readonly publicKey: CryptoKey | Uint8Array;
}

/**
 * Registry-token signing keys, persisted in the database so every replica signs and verifies with the same keys.
 * Rotation adds a new current key and retires the old one, which still verifies tokens until they expire.
 */
export class SigningKeys {
  readonly #db: Db;
  readonly #clock: Clock;
  #current: KeyPair | null = null;
  readonly #verifiers = new Map<string, CryptoKey | Uint8Array>();

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
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
      privateKey: await importJWK(JSON.parse(row.privateJwk) as JWK, REGISTRY_TOKEN_ALG),
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
        kid, privateJwk: JSON.stringify(await exportJWK(privateKey)), publicJwk: JSON.stringify(await exportJWK(publicKey)), createdAt: now, retiredAt: null,
      }).execute();
    });
    this.#current = null;
    return kid;
  }
}
