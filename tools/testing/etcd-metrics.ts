/**
 * Reads one Prometheus metric from a member's `/metrics` endpoint: the sum of every
 * sample of that name whose labels contain `labelFilter` (all label sets when omitted), or
 * undefined when the member exports no such sample.
 */
export async function readMetric(
  clientUrl: string,
  name: string,
  labelFilter = '',
): Promise<number | undefined> {
  const response = await fetch(`${clientUrl}/metrics`, {signal: AbortSignal.timeout(2000)});
  const text = await response.text();
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] !== name || !(match[2] ?? '').includes(labelFilter)) continue;
    total = (total ?? 0) + Number(match[3]);
  }
  return total;
}
