// Berth's only script: progressive enhancement. Every page works without it; with it, elements carrying
// data-copy="<text>" become copy-to-clipboard buttons. No inline scripts anywhere (the CSP forbids them).
'use strict';

function enhanceCopyButtons(root) {
  for (const button of root.querySelectorAll('[data-copy]')) {
    if (button.dataset.copyReady) continue;
    button.dataset.copyReady = '1';
    button.hidden = false;
    button.addEventListener('click', async () => {
      const text = button.getAttribute('data-copy') ?? '';
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied!';
      } catch {
        // No clipboard permission (plain http, old browser): select the text next to the button instead.
        const target = button.closest('.copy-box')?.querySelector('code, input');
        if (target instanceof HTMLInputElement) target.select();
        else if (target) window.getSelection()?.selectAllChildren(target);
        button.textContent = 'Press Ctrl+C';
      }
      button.setAttribute('aria-live', 'polite');
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
}

// Typed confirmations (delete/restore a package): the button stays disabled until the name is typed. The server
// checks the name too; this only saves a round trip.
function enhanceConfirmations(root) {
  for (const input of root.querySelectorAll('input[data-confirm]')) {
    const form = input.form;
    const button = form?.querySelector('button[type="submit"]');
    if (!button) continue;
    const update = () => { button.disabled = input.value !== input.getAttribute('data-confirm'); };
    input.addEventListener('input', update);
    update();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  enhanceCopyButtons(document);
  enhanceConfirmations(document);
});
