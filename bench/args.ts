/** Tiny argument reader for the benchmark commands: --json, --flag value. */
export function args(argv = process.argv.slice(2)) {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    json: argv.includes('--json'),
    /** A switch without a value: --threads. */
    flag: (name: string) => argv.includes(`--${name}`),
    get,
    num: (name: string, dflt: number) => {
      const v = get(name);
      return v === undefined ? dflt : Number(v);
    },
    list: (name: string, dflt: number[]) => {
      const v = get(name);
      return v === undefined ? dflt : v.split(',').map(Number);
    },
  };
}
