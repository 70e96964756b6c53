// Google's official Node.js Pub/Sub client (@google-cloud/pubsub, pinned in package.json)
// against the emulator at PUBSUB_EMULATOR_HOST: filters, snapshots and seek, Google's limits,
// exactly-once delivery, lease expiry, the stored-bytes bound and what is left out.
//
// Usage: node features.js PROJECT CHECK. Prints one JSON line with what it saw; exits non-zero
// with the reason on failure. The Rust test moves the emulator's clock between phases.
'use strict';

const {PubSub, v1, AckError} = require('@google-cloud/pubsub');

const [project, check] = process.argv.slice(2);
const pubsub = new PubSub({projectId: project});
const opts = {servicePath: process.env.PUBSUB_EMULATOR_HOST.split(':')[0],
  port: Number(process.env.PUBSUB_EMULATOR_HOST.split(':')[1]),
  sslCreds: require('@grpc/grpc-js').credentials.createInsecure(),
  'grpc.max_receive_message_length': -1};
const publisherApi = new v1.PublisherClient(opts);
const subscriberApi = new v1.SubscriberClient(opts);
const topicPath = name => `projects/${project}/topics/${name}`;
const subPath = name => `projects/${project}/subscriptions/${name}`;
const TIMEOUT = 60000;

function fail(reason) {
  console.error(reason);
  process.exit(1);
}

async function refused(call, code = 3) {
  try {
    await call();
  } catch (err) {
    if (err.code !== code) fail(`expected code ${code}, got ${err.code}: ${err.message}`);
    return err.details || err.message;
  }
  return fail(`expected code ${code} from ${call}`);
}

async function publishAll(topic, items) {
  const t = pubsub.topic(topic);
  return Promise.all(items.map(([data, attributes]) => t.publishMessage({data: Buffer.from(data), attributes})));
}

// Pulls with returnImmediately until nothing comes; returns {messageId: receivedMessage}.
async function pullAll(sub, ack = true) {
  const got = {};
  for (;;) {
    const [response] = await subscriberApi.pull({subscription: sub, maxMessages: 100, returnImmediately: true});
    if (!response.receivedMessages.length) return got;
    for (const r of response.receivedMessages) got[r.message.messageId] = r;
    if (ack) await subscriberApi.acknowledge({subscription: sub, ackIds: response.receivedMessages.map(r => r.ackId)});
  }
}

async function filters() {
  const [topic] = await pubsub.createTopic('telemetry');
  await topic.createSubscription('telemetry-only', {filter: 'attributes.subFolder = "telemetry"'});
  await topic.createSubscription('fleet-a', {filter: 'hasPrefix(attributes.deviceId, "pi-a") AND NOT attributes:test'});
  const mixed = await refused(() => topic.createSubscription('mixed', {filter: 'attributes:a OR attributes:b AND attributes:c'}));
  await publishAll('telemetry', [
    ['0', {subFolder: 'telemetry', deviceId: 'pi-a1'}],
    ['1', {subFolder: 'state', deviceId: 'pi-a2'}],
    ['2', {subFolder: 'telemetry', deviceId: 'pi-b1', test: 'y'}],
  ]);
  const delivered = {};
  for (const name of ['telemetry-only', 'fleet-a']) {
    delivered[name] = Object.values(await pullAll(subPath(name))).map(r => Number(r.message.data.toString())).sort();
  }
  return {delivered, mixed};
}

async function snapshots() {
  const [topic] = await pubsub.createTopic('events');
  const [sub] = await topic.createSubscription('replay', {retainAckedMessages: true});
  const before = new Date(Date.now() - 1000);
  const first = await publishAll('events', [['a0', {}], ['a1', {}]]);
  await pullAll(subPath('replay'));
  const [snapshot] = await sub.createSnapshot('mark');
  const later = await publishAll('events', [['b0', {}]]);
  await pullAll(subPath('replay'));
  await sub.seek('mark');
  const afterSnapshot = Object.keys(await pullAll(subPath('replay'))).sort();
  await sub.seek(before);
  const afterTime = Object.keys(await pullAll(subPath('replay'))).sort();
  const [listed] = await pubsub.getSnapshots();
  await snapshot.delete();
  const deleted = await refused(() => sub.seek('mark'), 5);
  return {
    afterSnapshot: JSON.stringify(afterSnapshot) === JSON.stringify(later.sort()),
    afterTime: JSON.stringify(afterTime) === JSON.stringify([...first, ...later].sort()),
    listed: listed.map(s => s.name), deleted,
  };
}

async function limits() {
  const [topic] = await pubsub.createTopic('big');
  await topic.createSubscription('big');
  const fiveMb = Buffer.alloc(5 * 1000 * 1000, 7);
  const [response] = await publisherApi.publish({topic: topicPath('big'), messages: [{data: fiveMb}]});
  const got = await pullAll(subPath('big'));
  const intact = got[response.messageIds[0]] && Buffer.compare(got[response.messageIds[0]].message.data, fiveMb) === 0;
  const publish = message => () => publisherApi.publish({topic: topicPath('big'), messages: [message]}, {retry: null});
  const attrs = n => Object.fromEntries([...Array(n).keys()].map(i => [`k${i}`, 'v']));
  return {
    intact,
    errors: {
      over10mb: await refused(publish({data: Buffer.alloc(10_000_001)})),
      attributes101: await refused(publish({data: Buffer.from('x'), attributes: attrs(101)})),
      key257: await refused(publish({data: Buffer.from('x'), attributes: {['k'.repeat(257)]: 'v'}})),
      detach: await refused(() => pubsub.detachSubscription(subPath('big')), 12),
    },
  };
}

async function exactlyOnce() {
  const [topic] = await pubsub.createTopic('orders');
  const [sub] = await topic.createSubscription('orders-eod', {enableExactlyOnceDelivery: true});
  await publishAll('orders', [['s0', {}], ['s1', {}]]);
  const acked = await new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => reject(new Error(`stream delivered ${seen.length} of 2`)), TIMEOUT);
    sub.on('error', reject);
    sub.on('message', async message => {
      seen.push([message.ackId, await message.ackWithResponse()]);
      if (seen.length === 2) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
  });
  await sub.close();
  let again = null;
  try {
    await subscriberApi.acknowledge({subscription: subPath('orders-eod'), ackIds: [acked[0][0], 'bogus']});
  } catch (err) {
    again = {code: err.code, metadata: err.errorInfoMetadata, reason: err.reason};
  }
  return {
    streamAcks: acked.map(([, result]) => result),
    again,
    ackedId: acked[0][0],
    leftover: Object.keys(await pullAll(subPath('orders-eod'))).length,
  };
}

async function leaseA() {
  const [topic] = await pubsub.createTopic('readings');
  const [sub] = await topic.createSubscription('by-stream', {ackDeadlineSeconds: 10});
  const ids = await publishAll('readings', [...Array(20).keys()].map(i => [`r${i}`, {}]));
  await new Promise(resolve => {
    const seen = new Set();
    sub.on('message', m => {
      seen.add(m.id);
      if (seen.size === 20) resolve();
    });
  });
  process.stdout.write(JSON.stringify({published: ids.sort()}) + '\n', () => process.exit(0));
  return null;
}

async function leaseB() {
  const got = await pullAll(subPath('by-stream'));
  return {ids: Object.keys(got).sort()};
}

async function memory() {
  const [topic] = await pubsub.createTopic('bounded');
  await topic.createSubscription('bounded');
  const publish = () => publisherApi.publish({topic: topicPath('bounded'), messages: [{data: Buffer.alloc(600, 1)}]}, {retry: null});
  await publish();
  const refusal = await refused(publish, 8);
  await pullAll(subPath('bounded'));
  await publish();
  return {refusal};
}

const checks = {filters, snapshots, limits, 'exactly-once': exactlyOnce, 'lease-a': leaseA, 'lease-b': leaseB, memory};
checks[check]().then(out => {
  if (out !== null) {
    console.log(JSON.stringify(out));
    process.exit(0);
  }
}, err => fail(err.stack || String(err)));
