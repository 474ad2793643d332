// Once per test run (vitest globalSetup): the seed users' password hashes (test/seed-users.ts).
import type { TestProject } from 'vitest/node';
import { makeSeedHashes } from './seed-users.js';

export default async function setup(project: TestProject) {
  project.provide('seedHashes', await makeSeedHashes());
}
