/** A seed-000 body as flat string parameters: JSON or application/x-www-form-urlencoded. */
export function parseParams(
  raw: string,
  contentType: string | undefined,
): Record<string, string> | undefined {
  if (contentType?.toLowerCase().includes('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(raw));
  try {
    const json = JSON.parse(raw) as unknown;
    if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
    return Object.fromEntries(
      Object.entries(json as Record<string, unknown>)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  } catch {
    return undefined;
  }
}
