/** Docker token-auth actions on a repository (distribution: GET/HEAD pull, POST/PUT/PATCH push, DELETE delete). */
export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];
