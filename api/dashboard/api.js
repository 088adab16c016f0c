// The budget API as the dashboard calls it: relative URLs (so a reverse proxy may mount Tollgate
// under a path), the token in the Authorization header only, and failures turned into ApiError
// with the API's stable `code` and `message`.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** GET an API path (relative, e.g. `api/v1/teams`) and return its JSON; throws ApiError. */
export async function getJson(path, token) {
  let response;
  try {
    response = await fetch(path, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiError(0, 'unreachable', `the API could not be reached (${error instanceof Error ? error.message : String(error)})`);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const code = typeof body?.code === 'string' ? body.code : `http_${response.status}`;
    const message = typeof body?.message === 'string' ? body.message : response.statusText || 'request failed';
    throw new ApiError(response.status, code, message);
  }
  if (body === undefined) throw new ApiError(response.status, 'invalid_answer', 'the API answered something that is not JSON');
  return body;
}

/** A path segment or query value, escaped. */
export const enc = encodeURIComponent;
