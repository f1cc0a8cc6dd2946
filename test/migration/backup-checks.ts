// Shared by the backup tests (filesystem + SQLite, S3 + PostgreSQL): the source's seed content, the pushes
// that race a backup, and the checks that a restored registry serves the snapshot whole.
import { join } from 'node:path';
import { expect } from 'vitest';
import { buildBusyboxLayout, buildMultiArchLayout } from '../fixtures/image.js';
import {
  catalog,
  contentOf,
  getBlobDigest,
  listTags,
  pullWithSkopeo,
  pushRandomImage,
  skopeoCopy,
} from './support.js';

/** Pushes busybox as library/busybox:1.0, a multi-platform index as team/multi:multi and `images` random images as seed/app:v0…. */
export async function seedBackupSource(url: string, images: number, layerBytes: number): Promise<void> {
  const [busybox, multi] = await Promise.all([buildBusyboxLayout(), buildMultiArchLayout()]);
  const host = new URL(url).host;
  await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, `docker://${host}/library/busybox:1.0`);
  await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, `docker://${host}/team/multi:multi`, '--all');
  for (let i = 0; i < images; i++) await pushRandomImage(url, 'seed/app', `v${i}`, layerBytes);
}

export interface RacingPush {
  tag: string;
  started: number;
  finished?: number;
}

/** Pushes random images into `repository` (tags p0, p1, …) one after another, each timed, until `stop()`. */
export function startRacingPushes(
  url: string,
  repository: string,
  layerBytes: number,
): { pushes: RacingPush[]; stop: () => Promise<void> } {
  const pushes: RacingPush[] = [];
  let pushing = true;
  const loop = (async () => {
    for (let i = 0; pushing; i++) {
      const push: RacingPush = { tag: `p${i}`, started: Date.now() };
      pushes.push(push);
      await pushRandomImage(url, repository, push.tag, layerBytes);
      push.finished = Date.now();
    }
  })();
  return {
    pushes,
    stop: async () => {
      pushing = false;
      await loop;
    },
  };
}

/** The racing pushes: all that finished before the backup began are restored; none that began after it ended. */
export async function expectRacingPushesWholeOrAbsent(
  restored: string,
  repository: string,
  pushes: RacingPush[],
  backupStarted: number,
  backupEnded: number,
): Promise<void> {
  const tags = new Set(await listTags(restored, repository));
  for (const push of pushes) {
    if (push.finished !== undefined && push.finished < backupStarted) expect(tags.has(push.tag)).toBe(true);
    if (push.started > backupEnded) expect(tags.has(push.tag)).toBe(false);
  }
}

/** Every tag of every repository of `restored` serves the source's manifest bytes and blobs. */
export async function expectSameContent(source: string, restored: string): Promise<string[]> {
  const repositories = await catalog(restored);
  for (const repository of repositories) {
    for (const tag of await listTags(restored, repository)) {
      const want = await contentOf(source, repository, tag);
      const got = await contentOf(restored, repository, tag);
      expect([...got.manifests.keys()]).toEqual([...want.manifests.keys()]);
      for (const [digest, bytes] of got.manifests)
        expect(bytes.equals(want.manifests.get(digest) as Buffer)).toBe(true);
      for (const blob of got.blobs) expect(await getBlobDigest(restored, repository, blob)).toBe(blob);
    }
  }
  return repositories;
}

/** skopeo pulls the restored team/multi:multi (every platform, into `tmp`/pull) as one of the source's manifests. */
export async function expectMultiArchPulls(source: string, restored: string, tmp: string): Promise<void> {
  const pulled = await pullWithSkopeo(new URL(restored).host, 'team/multi', 'multi', join(tmp, 'pull'));
  expect(
    (await contentOf(source, 'team/multi', 'multi')).manifests.has(pulled.get('manifest.json') as string),
  ).toBe(true);
}
