/**
 * Where the CLI finds the API, its token and the default workspace, in the habits of `vault`,
 * `temporal` and the platform's `tw`: environment variables first, then a config file, then the
 * embedded broker's admin token that `make start` writes.
 *
 *   API address   --api URL, BROKER_API_URL, config "api", http://127.0.0.1:8787
 *   token         BROKER_TOKEN, BROKER_TOKEN_FILE, config "token" / "tokenFile",
 *                 <BROKER_DATA_DIR or ./.data>/admin.token (the embedded broker's administrator)
 *   workspace     --workspace, BROKER_WORKSPACE, config "workspace"
 *   CA bundle     BROKER_CA_FILE, config "caFile" (an API served over TLS with a private CA)
 *
 * The config file is SECRET_BROKER_CONFIG, else $XDG_CONFIG_HOME/secret-broker/config.json (else
 * ~/.config/...). Tokens are never taken from the command line (they would be in the shell history
 * and the process list). A config file that holds a token must not be readable by others.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface CliSettings {
  api?: { url: string; source: string };
  token?: { value: string; source: string };
  workspace?: { name: string; source: string };
  caFile?: string;
  configFile: string;
  /** Problems found while reading (a config file that is not JSON ...): reported when the API is called. */
  problems: string[];
}

interface ConfigFile {
  api?: unknown;
  token?: unknown;
  tokenFile?: unknown;
  workspace?: unknown;
  caFile?: unknown;
}

function configFilePath(env: Record<string, string | undefined>): string {
  if (env.SECRET_BROKER_CONFIG) return env.SECRET_BROKER_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'secret-broker', 'config.json');
}

function readTokenFile(file: string, what: string, problems: string[]): string | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    if (text) return text;
    problems.push(`${what} ${file} is empty`);
  } catch (err) {
    problems.push(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return undefined;
}

export function loadSettings(env: Record<string, string | undefined>, cwd = process.cwd()): CliSettings {
  const problems: string[] = [];
  const configFile = configFilePath(env);
  let config: ConfigFile = {};
  let configMode: number | undefined;
  try {
    const st = fs.statSync(configFile);
    configMode = st.mode & 0o777;
    const parsed = JSON.parse(fs.readFileSync(configFile, 'utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) problems.push(`config file ${configFile}: must be a JSON object`);
    else config = parsed as ConfigFile;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') problems.push(`config file ${configFile}: ${code ? `cannot read it (${code})` : 'not valid JSON'}`);
  }
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

  const s: CliSettings = { configFile, problems };
  const api = env.BROKER_API_URL ? { url: env.BROKER_API_URL, source: 'BROKER_API_URL' } : str(config.api) ? { url: str(config.api)!, source: configFile } : undefined;
  if (api) s.api = api;

  if (env.BROKER_TOKEN) s.token = { value: env.BROKER_TOKEN.trim(), source: 'BROKER_TOKEN' };
  else if (env.BROKER_TOKEN_FILE) {
    const t = readTokenFile(env.BROKER_TOKEN_FILE, 'BROKER_TOKEN_FILE', problems);
    if (t) s.token = { value: t, source: env.BROKER_TOKEN_FILE };
  } else if (str(config.token) || str(config.tokenFile)) {
    if (str(config.token) && configMode !== undefined && configMode & 0o077) {
      problems.push(`config file ${configFile} holds a token and is readable by others: chmod 600 ${configFile}`);
    } else if (str(config.token)) s.token = { value: str(config.token)!.trim(), source: configFile };
    else {
      const file = path.resolve(path.dirname(configFile), str(config.tokenFile)!);
      const t = readTokenFile(file, `${configFile} "tokenFile"`, problems);
      if (t) s.token = { value: t, source: file };
    }
  } else {
    // The embedded broker's first administrator (`make start` writes it, mode 0600).
    const file = path.resolve(cwd, env.BROKER_DATA_DIR || '.data', 'admin.token');
    if (fs.existsSync(file)) {
      const t = readTokenFile(file, 'the embedded broker token', problems);
      if (t) s.token = { value: t, source: file };
    }
  }

  const ws = env.BROKER_WORKSPACE ? { name: env.BROKER_WORKSPACE, source: 'BROKER_WORKSPACE' } : str(config.workspace) ? { name: str(config.workspace)!, source: configFile } : undefined;
  if (ws) s.workspace = ws;
  const ca = env.BROKER_CA_FILE || str(config.caFile);
  if (ca) s.caFile = ca;
  return s;
}
