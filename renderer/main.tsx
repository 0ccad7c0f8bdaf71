import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AppError } from '../shared/errors/app-error.js';
import { App } from './app.js';
import { ConnectionFailure } from './screens/connection-failure.js';
import { connectClient } from './ipc/client.js';
import './styles.css';

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root element');
const root = createRoot(container);

try {
  const client = connectClient(window.location, window.sessionStorage, window.history);
  root.render(
    <StrictMode>
      <App client={client} />
    </StrictMode>,
  );
} catch (error) {
  root.render(<ConnectionFailure error={error instanceof AppError ? error : new AppError('INTERNAL')} />);
}
