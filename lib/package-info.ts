import { readFileSync } from 'node:fs'
import { findPackageJSON } from 'node:module'
import { dirname } from 'node:path'

const packageJsonPath = findPackageJSON('..', import.meta.url)
if (!packageJsonPath) throw new Error('package.json not found above lib/')

const packageJson = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string; license: string }

/** The project root, where package.json and sql/ live (also when running from dist/). */
export const packageRoot = dirname(packageJsonPath)
export const packageVersion = packageJson.version
export const packageLicense = packageJson.license
