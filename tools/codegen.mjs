#!/usr/bin/env node
// Regenerates packages/proto/src/gen from packages/proto/proto with buf and
// ts-proto, both installed from the npm registry, and the wire schema that the
// server's strict request decoder checks requests against. With --check it
// generates into a scratch folder and fails when the committed output differs, so
// CI catches a .proto edited without regenerating (or generated code edited by hand).
import {execFileSync} from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  cpSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as prettier from 'prettier';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const protoPackage = join(root, 'packages/proto');
const committed = join(protoPackage, 'src/gen');
const buf = join(root, 'node_modules/.bin/buf');
const plugin = join(root, 'node_modules/.bin/protoc-gen-ts_proto');
const wireSchemaFile = join(root, 'packages/server/src/transport/etcd-wire-schema.ts');
const jsonSchemaFile = join(root, 'packages/server/src/gateway/etcd-json-schema.ts');

const commonOptions = [
  'outputServices=nice-grpc',
  'outputServices=generic-definitions',
  'useExactTypes=false',
  'esModuleInterop=true',
  'oneof=unions-value',
  'importSuffix=.js',
  'outputJsonMethods=false',
  'outputPartialMethods=true',
];

/**
 * Two runs with different 64-bit mappings. The etcd API carries member, lease
 * and cluster ids that use all 64 bits, so it is generated with bigint. The raft
 * protocol carries terms, indexes and node ids that Synod keeps below 2^53, so
 * it is generated with plain numbers (ts-proto throws on a larger value).
 */
const runs = [
  {
    paths: [
      'etcdserverpb',
      'mvccpb',
      'authpb',
      'v3lockpb',
      'v3electionpb',
      'grpc/health/v1',
      'synodpb',
    ],
    options: [...commonOptions, 'forceLong=bigint', 'env=node'],
  },
  {
    paths: ['raftpb', 'peerpb'],
    // Bytes as Uint8Array rather than Buffer: the raft core uses no Node.js type.
    options: [...commonOptions, 'forceLong=number', 'env=browser'],
  },
];

/**
 * How deep ts-proto's decoders may nest messages. Its own limit, 100, refused a txn nested 50
 * levels deep (a TxnRequest and a RequestOp per level) that etcd decodes and checks: etcd's
 * op budget (128, less each level's ops) refuses nesting past 129 levels with `too many
 * operations in txn request`, after decoding. 1,000 decodes 499 levels, past any etcd takes,
 * and far below what Node's stack holds; deeper requests are refused by the server.
 */
const decodeDepthLimit = 1000;
const decodeDepthCheck = 'if (previousRecursionDepth >= 100) {';

function raiseDecodeDepthLimit(outDir) {
  let raised = 0;
  for (const file of listFiles(outDir)) {
    const path = join(outDir, file);
    const source = readFileSync(path, 'utf8');
    const count = source.split(decodeDepthCheck).length - 1;
    if (count === 0) continue;
    raised += count;
    writeFileSync(
      path,
      source.replaceAll(decodeDepthCheck, `if (previousRecursionDepth >= ${decodeDepthLimit}) {`),
    );
  }
  if (raised === 0) throw new Error(`codegen: ts-proto no longer writes "${decodeDepthCheck}"`);
}

function generate(outDir) {
  for (const run of runs) {
    const template = JSON.stringify({
      version: 'v2',
      plugins: [{local: plugin, out: outDir, opt: run.options}],
    });
    const pathArgs = run.paths.flatMap(p => ['--path', join('proto', p)]);
    execFileSync(buf, ['generate', '--template', template, ...pathArgs], {
      cwd: protoPackage,
      stdio: 'inherit',
    });
  }
  raiseDecodeDepthLimit(outDir);
}

function listFiles(dir) {
  const out = [];
  const walk = d => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

/** The services whose requests the server decodes strictly, as etcd does. */
// grpc.health.v1 is left out: etcd decodes it with golang/protobuf, whose errors read differently.
const strictPaths = ['etcdserverpb', 'v3lockpb', 'v3electionpb'];

/**
 * golang/protobuf's CamelCase: the Go name gogo-protobuf gives a field or message, which
 * etcd's decode errors quote ("wrong wireType = 0 for field RangeEnd").
 */
function goCamelCase(name) {
  let out = '';
  let i = 0;
  if (name.startsWith('_')) {
    out += 'X';
    i++;
  }
  const lower = c => c >= 'a' && c <= 'z';
  for (; i < name.length; i++) {
    let c = name[i];
    if (c === '_' && i + 1 < name.length && lower(name[i + 1])) continue;
    if (lower(c)) c = c.toUpperCase();
    out += c;
    while (i + 1 < name.length && lower(name[i + 1])) out += name[++i];
  }
  return out;
}

const varintTypes = new Set([
  'TYPE_INT32',
  'TYPE_INT64',
  'TYPE_UINT32',
  'TYPE_UINT64',
  'TYPE_SINT32',
  'TYPE_SINT64',
  'TYPE_BOOL',
  'TYPE_ENUM',
]);
const fixed64Types = new Set(['TYPE_FIXED64', 'TYPE_SFIXED64', 'TYPE_DOUBLE']);
const fixed32Types = new Set(['TYPE_FIXED32', 'TYPE_SFIXED32', 'TYPE_FLOAT']);

function wireKind(field) {
  const repeated = field.label === 'LABEL_REPEATED';
  const scalar = varintTypes.has(field.type)
    ? 'varint'
    : fixed64Types.has(field.type)
      ? 'fixed64'
      : fixed32Types.has(field.type)
        ? 'fixed32'
        : undefined;
  if (scalar !== undefined) return repeated ? `packed-${scalar}` : scalar;
  if (field.type === 'TYPE_MESSAGE') return 'message';
  if (field.type === 'TYPE_STRING' || field.type === 'TYPE_BYTES') return 'bytes';
  throw new Error(`wire schema: unsupported field type ${field.type} of ${field.name}`);
}

/**
 * Writes the wire schema of every request the strict services take: for each message its Go
 * name and, per field number, the field's Go name and wire kind. Only messages reachable from
 * a request are listed.
 */
/** The descriptors of the strict services' .proto files and of what they import, as buf reads them. */
function loadImage() {
  const pathArgs = strictPaths.flatMap(p => ['--path', join('proto', p)]);
  return JSON.parse(
    execFileSync(buf, ['build', ...pathArgs, '-o', '-#format=json'], {
      cwd: protoPackage,
      maxBuffer: 64 << 20,
    }).toString('utf8'),
  );
}

async function formatted(source, file) {
  const options = await prettier.resolveConfig(file);
  return prettier.format(source, {...options, filepath: file});
}

async function generateWireSchema(image) {
  const messages = new Map();
  const methods = [];
  const addMessages = (prefix, goPrefix, types) => {
    for (const m of types ?? []) {
      const fullName = `${prefix}.${m.name}`;
      const goName = goPrefix + goCamelCase(m.name);
      messages.set(fullName, {goName, fields: m.field ?? []});
      addMessages(fullName, `${goName}_`, m.nestedType);
    }
  };
  for (const file of image.file) {
    addMessages(file.package, '', file.messageType);
    const served = strictPaths.some(p => file.name.startsWith(`${p}/`));
    if (!served) continue;
    for (const service of file.service ?? []) {
      for (const method of service.method) {
        methods.push([
          `/${file.package}.${service.name}/${method.name}`,
          method.inputType.slice(1),
        ]);
      }
    }
  }
  const reachable = new Set();
  const visit = name => {
    if (reachable.has(name)) return;
    reachable.add(name);
    for (const field of messages.get(name).fields) {
      if (field.type === 'TYPE_MESSAGE') visit(field.typeName.slice(1));
    }
  };
  for (const [, input] of methods) visit(input);
  const messageEntries = [...reachable].sort().map(name => {
    const {goName, fields} = messages.get(name);
    const list = fields
      .map(f => {
        const kind = wireKind(f);
        const nested = kind === 'message' ? `, ${JSON.stringify(f.typeName.slice(1))}` : '';
        return `[${f.number}, ${JSON.stringify(goCamelCase(f.name))}, '${kind}'${nested}]`;
      })
      .join(', ');
    return `${JSON.stringify(name)}: [${JSON.stringify(goName)}, [${list}]],`;
  });
  const methodEntries = methods
    .sort()
    .map(([p, t]) => `${JSON.stringify(p)}: ${JSON.stringify(t)},`);
  const source = [
    '// Code generated by tools/codegen.mjs from packages/proto/proto. DO NOT EDIT.',
    "import type {WireSchema} from './wire-schema.js';",
    '',
    '/** The wire schema of the etcd API requests, which `WireValidator` checks them against. */',
    'export const etcdWireSchema: WireSchema = {',
    'messages: {',
    ...messageEntries,
    '},',
    'methods: {',
    ...methodEntries,
    '},',
    '};',
    '',
  ].join('\n');
  return formatted(source, wireSchemaFile);
}

const jsonTypes = {
  TYPE_INT64: 'int64',
  TYPE_UINT64: 'uint64',
  TYPE_INT32: 'int32',
  TYPE_UINT32: 'uint32',
  TYPE_BOOL: 'bool',
  TYPE_STRING: 'string',
  TYPE_BYTES: 'bytes',
  TYPE_ENUM: 'enum',
  TYPE_MESSAGE: 'message',
};

/**
 * Writes the JSON schema of every message the strict services take or answer with, for the
 * HTTP/JSON gateway: per field its number, .proto name, JSON (lowerCamel) name, type and
 * whether it repeats; per enum its Go type name (quoted by the gateway's errors) and values.
 */
async function generateJsonSchema(image) {
  const messages = new Map();
  const enums = new Map();
  const methods = [];
  const addEnums = (prefix, goPrefix, types) => {
    for (const e of types ?? []) {
      enums.set(`${prefix}.${e.name}`, {
        goName: `${goPrefix}${goCamelCase(e.name)}`,
        values: (e.value ?? []).map(v => [v.name, v.number]),
      });
    }
  };
  const addMessages = (prefix, goPrefix, pkg, types) => {
    for (const m of types ?? []) {
      const fullName = `${prefix}.${m.name}`;
      const goName = `${goPrefix}${goCamelCase(m.name)}`;
      messages.set(fullName, m.field ?? []);
      addEnums(fullName, `${pkg}.${goName}_`, m.enumType);
      addMessages(fullName, `${goName}_`, pkg, m.nestedType);
    }
  };
  for (const file of image.file) {
    addEnums(file.package, `${file.package}.`, file.enumType);
    addMessages(file.package, '', file.package, file.messageType);
    if (!strictPaths.some(p => file.name.startsWith(`${p}/`))) continue;
    for (const service of file.service ?? []) {
      for (const method of service.method) {
        methods.push([
          `/${file.package}.${service.name}/${method.name}`,
          [method.inputType.slice(1), method.outputType.slice(1)],
        ]);
      }
    }
  }
  const reachable = new Set();
  const usedEnums = new Set();
  const visit = name => {
    if (reachable.has(name)) return;
    reachable.add(name);
    for (const field of messages.get(name)) {
      if (field.type === 'TYPE_MESSAGE') visit(field.typeName.slice(1));
      if (field.type === 'TYPE_ENUM') usedEnums.add(field.typeName.slice(1));
    }
  };
  for (const [, [input, output]] of methods) {
    visit(input);
    visit(output);
  }
  const messageEntries = [...reachable].sort().map(name => {
    const list = messages
      .get(name)
      .map(f => {
        const type = jsonTypes[f.type];
        if (type === undefined)
          throw new Error(`json schema: unsupported type ${f.type} of ${f.name}`);
        const repeated =
          f.label === 'LABEL_REPEATED'
            ? 'repeated'
            : f.oneofIndex === undefined
              ? 'single'
              : 'oneof';
        const named =
          type === 'message' || type === 'enum' ? `, ${JSON.stringify(f.typeName.slice(1))}` : '';
        return `[${f.number}, ${JSON.stringify(f.name)}, ${JSON.stringify(f.jsonName)}, '${type}', '${repeated}'${named}]`;
      })
      .join(', ');
    return `${JSON.stringify(name)}: [${list}],`;
  });
  const enumEntries = [...usedEnums].sort().map(name => {
    const {goName, values} = enums.get(name);
    const list = values.map(([n, v]) => `[${JSON.stringify(n)}, ${v}]`).join(', ');
    return `${JSON.stringify(name)}: [${JSON.stringify(goName)}, [${list}]],`;
  });
  const methodEntries = methods
    .sort()
    .map(([p, [i, o]]) => `${JSON.stringify(p)}: [${JSON.stringify(i)}, ${JSON.stringify(o)}],`);
  const source = [
    '// Code generated by tools/codegen.mjs from packages/proto/proto. DO NOT EDIT.',
    "import type {JsonSchema} from './json-schema.js';",
    '',
    '/** The JSON schema of the etcd API: how the HTTP/JSON gateway translates its messages. */',
    'export const etcdJsonSchema: JsonSchema = {',
    'messages: {',
    ...messageEntries,
    '},',
    'enums: {',
    ...enumEntries,
    '},',
    'methods: {',
    ...methodEntries,
    '},',
    '};',
    '',
  ].join('\n');
  return formatted(source, jsonSchemaFile);
}

const scratch = mkdtempSync(join(tmpdir(), 'synod-codegen-'));
try {
  generate(scratch);
  const image = loadImage();
  const schemas = [
    [wireSchemaFile, await generateWireSchema(image)],
    [jsonSchemaFile, await generateJsonSchema(image)],
  ];
  if (process.argv.includes('--check')) {
    const fresh = listFiles(scratch);
    let existing = [];
    try {
      existing = listFiles(committed);
    } catch {
      existing = [];
    }
    const problems = [];
    for (const f of new Set([...fresh, ...existing])) {
      if (!fresh.includes(f)) problems.push(`stale file ${f} (no .proto generates it)`);
      else if (!existing.includes(f)) problems.push(`missing file ${f} (not committed)`);
      else if (!readFileSync(join(scratch, f)).equals(readFileSync(join(committed, f))))
        problems.push(`out of date: ${f}`);
    }
    for (const [file, schema] of schemas) {
      let committedSchema = '';
      try {
        committedSchema = readFileSync(file, 'utf8');
      } catch {
        committedSchema = '';
      }
      if (committedSchema !== schema) problems.push(`out of date: ${relative(root, file)}`);
    }
    if (problems.length > 0) {
      console.error('Generated protocol code differs from the .proto sources:');
      for (const p of problems) console.error(`  ${p}`);
      console.error('Run `npm run codegen` and commit the result.');
      process.exit(1);
    }
    console.log(`codegen: ${fresh.length} generated files match the .proto sources`);
  } else {
    rmSync(committed, {recursive: true, force: true});
    cpSync(scratch, committed, {recursive: true});
    console.log(`codegen: wrote ${listFiles(committed).length} files to packages/proto/src/gen`);
    for (const [file, schema] of schemas) {
      writeFileSync(file, schema);
      console.log(`codegen: wrote ${relative(root, file)}`);
    }
  }
} finally {
  rmSync(scratch, {recursive: true, force: true});
}
