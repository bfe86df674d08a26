import type { LifecycleAccess } from './lifecycle-access.js';
import type { LifecyclePolicies } from './lifecycle-policies.js';
import type { RetentionService } from './retention-service.js';

/** What the REST API and the web UI need of lifecycle/: the rules, who may change them, retention runs. */
export interface LifecycleServices {
  readonly policies: LifecyclePolicies;
  readonly access: LifecycleAccess;
  readonly retention: RetentionService;
}
