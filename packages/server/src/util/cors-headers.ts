/**
 * What etcd's client port adds to every HTTP answer, the JSON gateway's and `/version`,
 * `/health` and `/metrics` alike: CORS for any origin (etcd's `--cors` default, `*`). An
 * `OPTIONS` request on any path gets them with an empty 200. The metrics listener
 * (`--listen-metrics-urls`) adds none.
 */
export const corsHeaders: Readonly<Record<string, string>> = {
  'access-control-allow-headers': 'accept, content-type, authorization',
  'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'access-control-allow-origin': '*',
};
