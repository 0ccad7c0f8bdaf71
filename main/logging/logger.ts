import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactingLoggerOptions } from '../../shared/logging/redact.js';

/**
 * pino with the project's redaction policy applied to every record: no DICOM values, no secrets.
 * The audit trail is a separate stream and never goes through here.
 */
export function createLogger(options: { name: string; level?: string; destination?: DestinationStream }): Logger {
  const config: LoggerOptions = {
    ...(redactingLoggerOptions as LoggerOptions),
    name: options.name,
    level: options.level ?? process.env.PARADIM_LOG_LEVEL ?? 'info',
  };
  return pino(config, options.destination ?? pino.destination(2));
}
