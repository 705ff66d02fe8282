/**
 * How busy the machine was while the bench ran, from /proc: every few seconds, the CPU time all
 * processes used (/proc/stat) and the CPU time of the bench's own process tree (the bench, its peers
 * and the two workers: /proc/<pid>/stat of every descendant), so "others" is what the rest of the
 * machine took meanwhile, in cores. The load average counts the bench itself; this does not.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

const TICKS = 100; // USER_HZ

function busyTicks(): number {
  const [, ...f] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = f.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return total - n[3]! - n[4]!;
}

/** utime + stime of `root` and every live descendant. */
function treeTicks(root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
      parent.set(Number(entry), Number(rest[1]));
      ticks.set(Number(entry), Number(rest[11]) + Number(rest[12]));
    } catch {
      /* gone meanwhile */
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === root) return true;
    return false;
  };
  let sum = 0;
  for (const [pid, t] of ticks) if (inTree(pid)) sum += t;
  return sum;
}

export interface CpuUse {
  cores: number;
  /** Cores the rest of the machine used, per interval: mean and max. */
  others: { mean: number; max: number };
  /** Cores the bench's own process tree used: mean. */
  bench: { mean: number };
  samples: number;
}

export function sampleCpu(everyMs = 5_000): { stop(): CpuUse } {
  const others: number[] = [];
  const ours: number[] = [];
  let last = { t: Date.now(), busy: busyTicks(), mine: treeTicks(process.pid) };
  const timer = setInterval(() => {
    const now = { t: Date.now(), busy: busyTicks(), mine: treeTicks(process.pid) };
    const seconds = (now.t - last.t) / 1000;
    const mine = Math.max(0, now.mine - last.mine) / TICKS / seconds;
    const all = Math.max(0, now.busy - last.busy) / TICKS / seconds;
    ours.push(mine);
    others.push(Math.max(0, all - mine));
    last = now;
  }, everyMs);
  timer.unref();
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return {
    stop() {
      clearInterval(timer);
      return { cores: os.cpus().length, others: { mean: mean(others), max: others.length ? Math.max(...others) : NaN }, bench: { mean: mean(ours) }, samples: others.length };
    },
  };
}
