import { createInterface } from 'node:readline/promises';

/** Asks a yes/no question on the terminal; true only for an answer starting with y. */
export async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
