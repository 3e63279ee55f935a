// Extra rspack configuration merged by jupyter-builder. The worker bundle (sql.js + comlink)
// makes rspack's real content hashing see a circular dependency between the worker chunk and
// the chunk that references it; plain hashes are stable enough for a prebuilt extension.
module.exports = {
  optimization: {
    realContentHash: false
  }
};
