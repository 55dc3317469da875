import type {HttpExchange} from './http-exchange.js';

/**
 * What the listeners need of the JSON gateway: whether it serves a path, and serving an
 * exchange. The gateway sits above the transport and implements this.
 */
export interface HttpGateway {
  handles(path: string): boolean;
  serve(exchange: HttpExchange): Promise<void>;
}
