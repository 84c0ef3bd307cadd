import { test } from 'vitest';
import { PamHelper, openPamHandle } from '../../host/libpam/index.js';
import { TempDir } from './support.js';
test('leak probe', async () => {
  const dir = new TempDir();
  const multiconv = dir.build('pam_multiconv');
  dir.service('txn', `session required pam_debug.so open_session=success close_session=success\nsession required ${multiconv}`);
  dir.service('bare', `session required pam_permit.so`);
  for (const service of ['txn', 'bare']) {
  const helper = await PamHelper.start({ mode: 'helper' });
  for (let k = 0; k < 8; k++) {
    for (let i = 0; i < 5000; i++) {
      const h = await openPamHandle({ service, user: 'u' + (i % 100), confdir: dir.path, helper, conversation: (ms) => ms.map((m) => m.style.startsWith('prompt') ? 'answer' : null) });
      await h.openSession(); await h.closeSession(); await h.end();
    }
    const s = await helper.stats();
    console.log(service, k, (s.rss / 1048576).toFixed(1), (s.heapUsed / 1048576).toFixed(1));
  }
  await helper.close();
  }
  dir.cleanup();
}, 300000);
