import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactingLoggerOptions } from '../../shared/logging/redact.js';

/** The server's request and service log (pino, redacted: no DICOM values, no tokens). Not the audit trail. */
export function createServerLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const config: LoggerOptions = {
    ...(redactingLoggerOptions as LoggerOptions),
    name: 'paradim-server',
    level: options.level ?? process.env.PARADIM_LOG_LEVEL ?? 'info',
  };
  return pino(config, options.destination ?? pino.destination(1));
}
