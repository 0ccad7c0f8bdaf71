// Imported first by the CLI: libuv's thread pool (file I/O, fsync, zlib) is sized before its first use. fsyncs of
// concurrent STOW requests would otherwise occupy the default 4 threads and stall reads and writes.
process.env.UV_THREADPOOL_SIZE ??= '16';
