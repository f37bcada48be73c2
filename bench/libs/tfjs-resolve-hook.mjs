// tfjs-core's gradient registrations ship only as ES modules with
// extensionless relative imports (`./gradients/Abs_grad`), which Node's ESM
// resolver refuses. This resolve hook (registered by tfjs.mjs) retries such
// imports from inside @tensorflow/* with `.js` and `/index.js`.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context)
  } catch (e) {
    const fromTfjs = context.parentURL?.includes("/node_modules/@tensorflow/")
    if (!fromTfjs || !specifier.startsWith(".") || specifier.endsWith(".js")) throw e
    for (const suffix of [".js", "/index.js"]) {
      try {
        return await next(specifier + suffix, context)
      } catch {}
    }
    throw e
  }
}
