/** The full owner client: what the CLI, the desktop app and tests use to act as the person. */
import { connectRpc, type RpcClient, type RpcClientOptions } from './rpc-client.js';
import { readOwnerKey } from './owner-key-file.js';

/** Connects to the agent as its owner: the socket, then `admin.hello` with the key from the data directory. */
export async function connectOwner(socket: string, ownerKeyPath: string, options: RpcClientOptions = {}): Promise<RpcClient> {
  const client = await connectRpc(socket, options);
  try {
    await client.call('admin.hello', { owner_key: readOwnerKey(ownerKeyPath) });
    return client;
  } catch (err) {
    client.close();
    throw err;
  }
}
