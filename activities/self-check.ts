import os from 'node:os';
import type { ActivityDeps } from './deps';

export function createSelfCheckActivities({ db }: ActivityDeps) {
  const workerIdentity = `${process.pid}@${os.hostname()}`;
  return {
    async recordSelfCheck(token: string): Promise<{ token: string; workerIdentity: string }> {
      await db('self_checks').insert({ token, worker_identity: workerIdentity }).onConflict('token').ignore();
      const row = await db('self_checks')
        .where({ token })
        .first<{ token: string; worker_identity: string }>();
      if (!row) throw new Error(`self-check row ${token} was written but cannot be read back`);
      return { token: row.token, workerIdentity: row.worker_identity };
    },
  };
}
