// A Node.js gRPC client of goodwilld that has nothing from this repository
// but the descriptor set gen/goodwill.binpb: proof that a client in another
// language needs no .proto files from elsewhere. TestNodeClient runs it:
//
//   node grpc_client.js DESCRIPTOR_SET ADDRESS TOKEN
//
// It records an event, reads the balance back, asks for a missing customer,
// and prints one JSON line per step.
'use strict';
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [descriptorSet, address, token] = process.argv.slice(2);
// From a descriptor set proto-loader keeps the proto field names
// (customer_id), whatever keepCase says.
const definition = protoLoader.loadFileDescriptorSetFromBuffer(fs.readFileSync(descriptorSet), {
  longs: String, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition);
const client = new pkg.goodwill.v1.GoodwillService(address, grpc.credentials.createInsecure());
const meta = new grpc.Metadata();
meta.add('authorization', 'Bearer ' + token);

function call(method, request) {
  return new Promise((resolve) => {
    client[method](request, meta, { deadline: Date.now() + 10000 }, (err, response) => {
      resolve(err ? { error: { code: grpc.status[err.code], message: err.details } } : { response });
    });
  });
}

(async () => {
  const steps = [
    ['UpsertCustomer', { customer_id: 'node-1', customer: { display_name: 'From Node', segment: 'gold', value: 2 } }],
    ['RecordEvent', { customer_id: 'node-1', event: { kind: 'EVENT_KIND_OUTAGE', magnitude: 2, idempotency_key: 'node-k1' } }],
    ['RecordEvent', { customer_id: 'node-1', event: { kind: 'EVENT_KIND_OUTAGE', magnitude: 2, idempotency_key: 'node-k1' } }],
    ['GetBalance', { customer_id: 'node-1' }],
    ['GetCustomer', { customer_id: 'nobody' }],
    ['RecordEvent', { customer_id: 'node-1', event: { kind: 'EVENT_KIND_CREDIT', magnitude: -1 } }],
  ];
  for (const [method, request] of steps) {
    const out = await call(method, request);
    console.log(JSON.stringify({ method, ...out }));
  }
  client.close();
})();
