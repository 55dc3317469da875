/**
 * The subject of a client certificate as ZooKeeper's `X509AuthenticationProvider` names it:
 * Java's `X500Principal.getName()`, the RFC 2253 form, which is the id of the `x509` scheme.
 * Made from the certificate's DER, not from Node's parsed subject, which loses the order of
 * the RDNs, multi-valued RDNs and the string types that decide how a value is written.
 *
 * Worked example: a certificate made with `-subj '/C=DE/O=Acme, Inc./OU=ops+UID=7/CN=alice'`
 * has the subject `CN=alice,OU=ops+UID=7,O=Acme\, Inc.,C=DE`: RDNs last to first, joined by
 * ',' with no space, the AVAs of one RDN in their encoded order joined by '+', and the
 * characters `,=+<>#;"\` escaped with a backslash wherever they are (Java escapes '=' and '#'
 * in the middle of a value too), as are leading and trailing spaces. An attribute without an
 * RFC 2253 keyword (emailAddress, serialNumber, title, ...) is written as its OID and the hex
 * of its DER value: `1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e6f7267`.
 */
export function x509SubjectName(certificateDer: Buffer): string {
  const certificate = readTlv(certificateDer, 0);
  const tbs = readTlv(certificateDer, certificate.start);
  let at = tbs.start;
  const first = readTlv(certificateDer, at);
  // [0] EXPLICIT version is optional (absent means v1).
  if (first.tag === 0xa0) at = first.end;
  // serialNumber, signature, issuer, validity, then subject.
  for (let i = 0; i < 4; i++) at = readTlv(certificateDer, at).end;
  const subject = readTlv(certificateDer, at);
  if (subject.tag !== SEQUENCE) throw new Error('certificate subject is not a SEQUENCE');
  const rdns: string[] = [];
  for (let p = subject.start; p < subject.end; ) {
    const rdn = readTlv(certificateDer, p);
    if (rdn.tag !== SET) throw new Error('certificate subject RDN is not a SET');
    const avas: string[] = [];
    for (let q = rdn.start; q < rdn.end; ) {
      const ava = readTlv(certificateDer, q);
      const type = readTlv(certificateDer, ava.start);
      const value = readTlv(certificateDer, type.end);
      avas.push(
        avaString(decodeOid(certificateDer.subarray(type.start, type.end)), value, certificateDer),
      );
      q = ava.end;
    }
    rdns.push(avas.join('+'));
    p = rdn.end;
  }
  return rdns.reverse().join(',');
}

/**
 * Whether Java's `new X500Principal(name)` accepts `name`, which is how ZooKeeper's x509
 * provider judges the id of an `x509` ACL (`isValid`): comma- or semicolon-separated RDNs of
 * `type=value` pairs joined by '+', a type being a keyword Java knows (any case) or an OID
 * (optionally `OID.`-prefixed); a value plain with backslash escapes, quoted, or `#` and hex.
 * The empty name is valid.
 */
export function isValidX500Name(name: string): boolean {
  let i = 0;
  const n = name.length;
  const skipSpaces = () => {
    while (i < n && name[i] === ' ') i++;
  };
  skipSpaces();
  if (i === n) return true;
  for (;;) {
    // type
    skipSpaces();
    const typeStart = i;
    while (i < n && name[i] !== '=' && name[i] !== ',' && name[i] !== ';' && name[i] !== '+') i++;
    if (i === n || name[i] !== '=') return false;
    const type = name.slice(typeStart, i).trim();
    if (!isKnownType(type)) return false;
    i++; // '='
    skipSpaces();
    // value
    if (name[i] === '"') {
      i++;
      while (i < n && name[i] !== '"') {
        if (name[i] === '\\') {
          if (i + 1 >= n) return false;
          i++;
        }
        i++;
      }
      if (i === n) return false;
      i++;
      skipSpaces();
    } else if (name[i] === '#') {
      i++;
      const hexStart = i;
      while (i < n && /[0-9a-fA-F]/.test(name[i] ?? '')) i++;
      const digits = i - hexStart;
      if (digits === 0 || digits % 2 !== 0) return false;
      skipSpaces();
    } else {
      while (i < n && name[i] !== ',' && name[i] !== ';' && name[i] !== '+') {
        if (name[i] === '\\') {
          const next = name[i + 1];
          if (next === undefined) return false;
          if (/[0-9a-fA-F]/.test(next)) {
            if (!/[0-9a-fA-F]/.test(name[i + 2] ?? '')) return false;
            i += 3;
            continue;
          }
          if (!',=+<>#;"\\ '.includes(next)) return false;
          i += 2;
          continue;
        }
        // Java takes an unescaped '=' inside a value, but not these.
        if (name[i] === '"' || name[i] === '<' || name[i] === '>') return false;
        i++;
      }
    }
    if (i === n) return true;
    const sep = name[i];
    if (sep !== ',' && sep !== ';' && sep !== '+') return false;
    i++;
  }
}

const SEQUENCE = 0x30;
const SET = 0x31;

/** `sun.security.x509.AVAKeyword`: the keywords Java writes in RFC 2253 names. */
const rfc2253Keywords: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.9', 'STREET'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
]);

/** Every keyword Java's name parser takes, RFC 2253's and RFC 1779's and its own. */
const parsedKeywords = new Set([
  'CN',
  'C',
  'L',
  'S',
  'ST',
  'O',
  'OU',
  'T',
  'IP',
  'STREET',
  'DC',
  'DNQUALIFIER',
  'DNQ',
  'SURNAME',
  'GIVENNAME',
  'INITIALS',
  'GENERATION',
  'EMAIL',
  'EMAILADDRESS',
  'UID',
  'SERIALNUMBER',
]);

function isKnownType(type: string): boolean {
  if (parsedKeywords.has(type.toUpperCase())) return true;
  const oid = /^oid\./i.test(type) ? type.slice(4) : type;
  return /^\d+(\.\d+)+$/.test(oid);
}

/** Tags of the strings Java writes as text; any other value is written as `#` and hex. */
const stringTags: ReadonlyMap<number, BufferEncoding | 'utf16be'> = new Map([
  [0x0c, 'utf8'], // UTF8String
  [0x13, 'latin1'], // PrintableString
  [0x14, 'latin1'], // T61String
  [0x16, 'latin1'], // IA5String
  [0x1b, 'latin1'], // GeneralString
  [0x1e, 'utf16be'], // BMPString
]);

/** Characters Java escapes with a backslash in any position. */
const escapees = ',=+<>#;"\\';

/** `AVA.toRFC2253String`. */
function avaString(oid: string, value: Tlv, der: Buffer): string {
  const keyword = rfc2253Keywords.get(oid);
  const encoding = stringTags.get(value.tag);
  if (keyword === undefined || encoding === undefined) {
    return `${keyword ?? oid}=#${der.subarray(value.headerStart, value.end).toString('hex')}`;
  }
  const bytes = der.subarray(value.start, value.end);
  const text =
    encoding === 'utf16be'
      ? Buffer.from(bytes).swap16().toString('utf16le')
      : bytes.toString(encoding);
  // Java walks UTF-16 code units (`charAt`); so does this.
  let escaped = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (escapees.includes(c)) escaped += `\\${c}`;
    else if (c === '\u0000') escaped += '\\00';
    else escaped += c;
  }
  // Leading and trailing spaces (and carriage returns) are escaped one by one.
  const blank = (c: string): boolean => c === ' ' || c === '\r';
  let lead = 0;
  while (lead < escaped.length && blank(escaped.charAt(lead))) lead++;
  let trail = escaped.length - 1;
  while (trail >= 0 && blank(escaped.charAt(trail))) trail--;
  let written = '';
  for (let i = 0; i < escaped.length; i++) {
    written += i < lead || i > trail ? `\\${escaped.charAt(i)}` : escaped.charAt(i);
  }
  return `${keyword}=${written}`;
}

interface Tlv {
  readonly tag: number;
  readonly headerStart: number;
  /** Where the content starts. */
  readonly start: number;
  readonly end: number;
}

/** One DER tag-length-value at `at` (single-byte tags, definite lengths). */
function readTlv(der: Buffer, at: number): Tlv {
  const tag = der[at];
  let length = der[at + 1];
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  let start = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let k = 0; k < octets; k++) length = length * 256 + (der[start + k] ?? 0);
    start += octets;
  }
  const end = start + length;
  if (end > der.length) throw new Error('truncated DER');
  return {tag, headerStart: at, start, end};
}

function decodeOid(bytes: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}
