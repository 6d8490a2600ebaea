// The marshalling case: a structured value (a Shape of points, as the C++
// task echo_shape knows it) encoded and decoded in the page (ferry's codec,
// JSON, structuredClone) and echoed by a worker (ferry JS and C++ wasm,
// postMessage, Comlink, workerpool); MB/s of its JSON size. One of the seed
// metrics (marshalling throughput).
import { COMLINK, PM_CLONE, WP, addRow, log, repsOf, table, timedReps } from '/bench/harness.js';

function makeShape(points) {
  const pts = Array.from({ length: points }, (_, i) => ({ x: (i * 7919) % 10007, y: (i * 104729) % 65521 - 30000 }));
  return { name: 'polygon', points: pts, anchor: { x: 1, y: -1 }, tags: { area: 12.5, weight: 0.25, z: 3 } };
}

export async function marshalling(run) {
  log('marshalling');
  const { c } = run;
  const shape = makeShape(run.quick ? 100 : 2000);
  const jsonBytes = new TextEncoder().encode(JSON.stringify(shape)).length;
  const t = table(`marshalling a structured value (a Shape of ${shape.points.length} points, ${jsonBytes} bytes as JSON) (MB/s of JSON bytes)`,
    ['JSON.stringify/parse', 'structuredClone', PM_CLONE, COMLINK, WP],
    'MB/s counts the value’s JSON size for every contender; in page: encode + decode on the main thread (ferry ' +
    'codec from /dist/index.js, JSON.stringify + JSON.parse, structuredClone); to a worker and back: the worker ' +
    'echoes the value (ferry wasm: the C++ task echo_shape decodes it into a C++ struct and encodes it back)');
  const codec = await run.guard('import codec', () => import('/dist/index.js'));
  const schemaMod = await run.guard('import schema', () => import('/dist/schema.js'));
  // The type of the C++ task echo_shape (web/wasm/ferry_web.cpp), as schema_of<Shape>() writes it.
  const shapeSchema = schemaMod && schemaMod.parseType('struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,tags:{string:f64}}');
  const wire = await run.guard('import codec module', () => import('/dist/codec.js'));
  const w = wire && new wire.Writer(1 << 16);
  const ops = run.quick ? 20 : 400;
  const sameShape = (v) => v && v.name === shape.name && v.points?.length === shape.points.length &&
    v.points[shape.points.length - 1].y === shape.points[shape.points.length - 1].y;
  const inPage = {
    'ferry codec': codec && (() => codec.decode(codec.encode(shape))),
    'ferry codec, schema form': shapeSchema && w && (() => {
      w.reset();
      schemaMod.encodeSchemaForm(w, shapeSchema, shape);
      return schemaMod.decodeAs(w.bytes(), shapeSchema);
    }),
    'JSON.stringify/parse': () => JSON.parse(JSON.stringify(shape)),
    structuredClone: () => structuredClone(shape),
  };
  const res = await timedReps(run, inPage, ops * jsonBytes, 1e6, async (name, f) => {
    for (let k = 0; k < ops; k++) if (!sameShape(f())) throw new Error(`${name}: the value came back different`);
  });
  const pageBaselines = { 'JSON.stringify/parse': repsOf(res, 'JSON.stringify/parse', ops), structuredClone: repsOf(res, 'structuredClone', ops) };
  addRow(t, 'encode + decode in the page · ferry codec', 'MB/s', true, repsOf(res, 'ferry codec', ops), pageBaselines,
    'self-describing: every value tagged, every struct with its field names', 'marshalling throughput');
  addRow(t, 'encode + decode in the page · ferry codec, schema form', 'MB/s', true, repsOf(res, 'ferry codec, schema form', ops), pageBaselines,
    'the schema form (core/CODEC.md): encodeSchemaForm + decodeAs with the Shape schema C++ publishes, as the pool does for C++ tasks', 'marshalling throughput');

  const wops = run.quick ? 10 : 200;
  const echo = {
    'ferry JS': c.ferryJs && (() => c.ferryJs.call('echo', shape)),
    'ferry wasm': c.ferryWasm && (() => c.ferryWasm.call('echo_shape', shape)),
    [PM_CLONE]: () => c.plain.call({ op: 'echo', v: shape }).then((m) => m.r),
    [COMLINK]: () => c.comlink.echo(shape),
    [WP]: () => c.wp.exec('echo', [shape]),
  };
  const wres = await timedReps(run, echo, wops * jsonBytes, 1e6, async (name, f) => {
    for (let k = 0; k < wops; k++) if (!sameShape(await f())) throw new Error(`${name}: the echoed value came back different`);
  });
  const others = { [PM_CLONE]: repsOf(wres, PM_CLONE, wops), [COMLINK]: repsOf(wres, COMLINK, wops), [WP]: repsOf(wres, WP, wops) };
  addRow(t, 'echo to a worker and back · ferry JS workers', 'MB/s', true, repsOf(wres, 'ferry JS', wops), others);
  addRow(t, 'echo to a worker and back · ferry wasm (C++ echo_shape)', 'MB/s', true, repsOf(wres, 'ferry wasm', wops), others,
    '', 'marshalling throughput');
  run.tables.push(t);
}
