import { access } from 'node:fs/promises';

/** Whether something is at `path` (any kind of file), without throwing. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
