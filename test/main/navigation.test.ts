import { describe, expect, it } from 'vitest';
import { classifyNavigation, type NavigationKind } from '../../app/navigation';

const server = 'http://127.0.0.1:8787';
const verdict = (target: string, kind: NavigationKind = 'navigate', serverUrl = server) => classifyNavigation({ target, serverUrl, kind });

describe('navigation policy: the server origin stays, other web pages go to the browser, the rest is blocked', () => {
  it('keeps the server origin in the window, whatever the path, query or hash', () => {
    for (const t of ['http://127.0.0.1:8787', 'http://127.0.0.1:8787/', 'http://127.0.0.1:8787/#/settings', 'http://127.0.0.1:8787/logs?level=warn', 'HTTP://127.0.0.1:8787/x']) {
      expect(verdict(t), t).toBe('in-window');
      expect(verdict(t, 'new-window'), t).toBe('in-window');
    }
  });

  it('treats another port, host name or scheme as another origin', () => {
    expect(verdict('http://127.0.0.1:8788/')).toBe('external');
    expect(verdict('http://localhost:8787/')).toBe('external');
    expect(verdict('https://127.0.0.1:8787/')).toBe('external');
  });

  it('sends other http(s) pages to the default browser', () => {
    expect(verdict('https://example.com/docs')).toBe('external');
    expect(verdict('http://example.com', 'new-window')).toBe('external');
  });

  it('normalises default ports: :80 is the same origin as none', () => {
    expect(verdict('http://berth.local/', 'navigate', 'http://berth.local:80')).toBe('in-window');
    expect(verdict('http://[::1]:8787/a', 'navigate', 'http://[::1]:8787')).toBe('in-window');
  });

  it('blocks every other scheme and anything unparsable', () => {
    for (const t of ['file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,<b>x</b>', 'chrome://settings', 'devtools://devtools', 'about:blank', 'mailto:a@b.c', 'berth://x', 'not a url', '', '//example.com']) {
      expect(verdict(t), t).toBe('block');
    }
  });

  it('blocks URLs with credentials, which disguise where they go', () => {
    expect(verdict('https://127.0.0.1:8787@evil.example/')).toBe('block');
    expect(verdict('http://user:pw@127.0.0.1:8787/')).toBe('block');
  });

  it('blocks everything when the server URL itself is unusable', () => {
    expect(verdict('http://127.0.0.1:8787/', 'navigate', 'garbage')).toBe('block');
  });
});
