import type { FastifyReply } from 'fastify';
import type { BerthError } from '../../util/errors.js';

/** Sends an OCI error: the error's status and headers (a 401's challenge), and its JSON body. */
export function sendOciError(reply: FastifyReply, error: BerthError): FastifyReply {
  return reply.code(error.status).headers(error.headers).type('application/json').send(ociErrorBody(error));
}

/** `{"errors":[{code,message,detail?}]}` (spec "Error Codes"). */
export function ociErrorBody(error: BerthError): string {
  return JSON.stringify({ errors: [{ code: error.code, message: error.message, ...(error.detail === undefined ? {} : { detail: error.detail }) }] });
}
