/**
 * A terminal progress bar in plain ANSI, no dependency. On a terminal it
 * redraws one line in place; when stdout is not a TTY (a pipe, a CI log) it
 * prints a plain line every tenth of the run instead, so logs stay readable.
 */
import { Effect } from "effect"

export interface ProgressBar {
  /** Reports step `i` (1-based) with a label such as `loss 0.1234`. */
  readonly update: (i: number, label: string) => Effect.Effect<void>
  /** Ends the bar (moves past its line on a terminal). */
  readonly done: Effect.Effect<void>
}

export const progressBar = (total: number, options: { readonly width?: number; readonly title?: string } = {}): ProgressBar => {
  const out = process.stdout
  const tty = out.isTTY === true && process.env.TERM !== "dumb"
  const color = tty && process.env.NO_COLOR === undefined
  const width = Math.max(10, Math.min(options.width ?? 30, (out.columns ?? 80) - 50))
  const title = options.title ?? "progress"
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s)
  let lastTenth = -1
  return {
    update: (i, label) =>
      Effect.sync(() => {
        const frac = Math.min(1, i / total)
        if (tty) {
          const filled = Math.round(frac * width)
          const bar = paint("32", "█".repeat(filled)) + paint("2", "░".repeat(width - filled))
          const pct = `${Math.floor(frac * 100)}`.padStart(3)
          out.write(`\r\x1b[2K${title} ${bar} ${pct}% ${`${i}`.padStart(`${total}`.length)}/${total}  ${label}`)
        } else {
          const tenth = Math.floor(frac * 10)
          if (tenth > lastTenth) {
            lastTenth = tenth
            out.write(`${title} ${`${Math.floor(frac * 100)}`.padStart(3)}% ${i}/${total}  ${label}\n`)
          }
        }
      }),
    done: Effect.sync(() => {
      if (tty) out.write("\n")
    })
  }
}
