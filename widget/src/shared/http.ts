// JSON over fetch with Parley's error shape ({"error","code"}) and the CSRF
// header that cookie-authenticated, state-changing requests must carry.

/** ApiError is a failed API call: HTTP status, machine code, human text,
 * and the whole answer (body) for codes that carry more. status 0 means
 * the server could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** cookie returns a cookie's value, or "" when it is not set. */
export function cookie(name: string): string {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

/** api calls a JSON endpoint; non-2xx answers throw ApiError. A FormData
 * body (a file upload) goes as multipart; extra adds headers (a visitor
 * token's Authorization). */
export async function api<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
  const form = body instanceof FormData;
  const headers: Record<string, string> = { Accept: "application/json", ...extra };
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const csrf = cookie("parley_csrf");
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : form ? (body as FormData) : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection.");
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; code?: string };
    throw new ApiError(res.status, e.code ?? "http_" + res.status, e.error ?? `Request failed (${res.status})`, data);
  }
  return data as T;
}

/** liveURL turns a path into a ws:// or wss:// URL on this page's host. */
export function liveURL(path: string): string {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

/** errorMessage is what to show a person for a failed call or action. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
