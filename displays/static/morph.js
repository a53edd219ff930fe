/* The keyed morph (see docs/design-contract.md): a region's new server-rendered HTML is
   patched into the live page node by node, so focus and caret, an open <details>, a select's
   choice and any form the person is working in survive every update. palabre.js owns the
   socket and says which forms are being edited; this file owns how the DOM is patched. */
window.PalabreMorph = (() => {
  'use strict';

  const FIELDS = 'input, textarea, select, [contenteditable]';
  const NEW_CARD_MS = 1500;   // how long an arriving card keeps .card--new (palabre.css)

  // isEdited(el): a form typed in since its last ok ack; onSettled(): new cards have settled.
  function create({ isEdited, onSettled }) {
    let guarded = new Set();   // ancestors of protected elements, during one apply

    // Patches each [data-region=name] to its new HTML; returns the regions patched.
    function apply(regions) {
      const focus = saveFocus();
      guarded = guardedAncestors();
      const patched = [];
      for (const [name, html] of Object.entries(regions)) {
        const el = document.querySelector(`[data-region="${CSS.escape(name)}"]`);
        if (!el || typeof html !== 'string') continue;
        const tpl = document.createElement('template');
        tpl.innerHTML = html;         // trusted: rendered and escaped by the server's Jinja
        morphChildren(el, tpl.content);
        patched.push(el);
      }
      restoreFocus(focus);
      return patched;
    }

    // Moving a node that contains the focus blurs it; remember caret to put it back.
    function saveFocus() {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      try { return { el, start: el.selectionStart, end: el.selectionEnd }; } catch { return { el }; }
    }

    function restoreFocus(s) {
      if (!s || !s.el.isConnected || document.activeElement === s.el) return;
      s.el.focus({ preventScroll: true });
      try { if (typeof s.start === 'number') s.el.setSelectionRange(s.start, s.end); } catch { /* no caret */ }
    }

    // Identity for matching old and new nodes: id, data-key, or a form's step+action.
    function keyOf(n) {
      if (n.nodeType !== 1) return null;
      const id = n.getAttribute('id');   // not n.id: a field named "id" shadows it on forms
      if (id) return `#${id}`;
      const k = n.getAttribute('data-key');
      if (k !== null) return `k:${k}`;
      if (n.tagName === 'FORM' && n.hasAttribute('data-action')) {
        return `f:${n.getAttribute('data-step') || ''}:${n.getAttribute('data-action')}`;
      }
      return null;
    }

    const sameKind = (a, b) => a.nodeType === b.nodeType && a.nodeName === b.nodeName;

    // The user's work in progress: the form holding the focused field, any form typed
    // in since its last ok ack, and anything still waiting for its ack.
    function isProtected(el) {
      if (isEdited(el) || el.getAttribute('aria-busy') === 'true') return true;
      const a = document.activeElement;
      return Boolean(a && a !== document.body && a.matches(FIELDS) && (a.form || a) === el);
    }

    // Elements containing the user's work keep their own attributes (a <details> stays open,
    // a card keeps its class); only their children are patched around the protected part.
    function guardedAncestors() {
      const set = new Set();
      for (const el of document.querySelectorAll(`form, ${FIELDS}, [aria-busy="true"]`)) {
        if (!isProtected(el)) continue;
        for (let p = el.parentElement; p && !set.has(p); p = p.parentElement) set.add(p);
      }
      return set;
    }

    function morphChildren(oldParent, newParent) {
      const keyed = new Map();
      for (const c of oldParent.children) { const k = keyOf(c); if (k) keyed.set(k, c); }
      const used = new Set();
      let cursor = oldParent.firstChild;
      for (const fresh of Array.from(newParent.childNodes)) {
        const k = keyOf(fresh);
        let match = k ? keyed.get(k) : null;
        if (!k && cursor && !keyOf(cursor) && !used.has(cursor)) match = cursor;
        if (match && (used.has(match) || !sameKind(match, fresh))) match = null;
        if (match) {
          used.add(match);
          if (match === cursor) cursor = cursor.nextSibling;
          else oldParent.insertBefore(match, cursor);
          morphNode(match, fresh);
        } else {
          oldParent.insertBefore(fresh, cursor);   // adopts the parsed node as is
          used.add(fresh);
          markNew(fresh);
        }
      }
      for (const c of Array.from(oldParent.childNodes)) if (!used.has(c)) c.remove();
    }

    function morphNode(old, fresh) {
      if (old.nodeType !== 1) {
        if (old.nodeValue !== fresh.nodeValue) old.nodeValue = fresh.nodeValue;
        return;
      }
      if (isProtected(old)) return;
      if (!guarded.has(old)) syncAttrs(old, fresh);
      if (old.tagName === 'TEXTAREA') {
        old.defaultValue = fresh.defaultValue;
        old.value = fresh.defaultValue;
      } else if (old.tagName === 'INPUT') {
        if (old.type === 'checkbox' || old.type === 'radio') old.checked = fresh.defaultChecked;
        else if (old.type !== 'file') old.value = fresh.defaultValue;
      } else if (old.tagName === 'SELECT') {
        // The person's choice survives new options arriving, unless the server picks one.
        const chosen = old.value;
        const serverChoice = fresh.querySelector('option[selected]');
        morphChildren(old, fresh);
        const keep = serverChoice ? serverChoice.value : chosen;
        if (Array.from(old.options).some((o) => o.value === keep)) old.value = keep;
      } else {
        morphChildren(old, fresh);
      }
    }

    function syncAttrs(old, fresh) {
      const wasNew = old.classList.contains('card--new');   // client-owned class survives the morph
      for (const a of Array.from(old.attributes)) {
        if (fresh.hasAttributeNS(a.namespaceURI, a.localName)) continue;
        if (a.name === 'open' && old.tagName === 'DETAILS') continue;   // the user opened it
        old.removeAttributeNS(a.namespaceURI, a.localName);
      }
      for (const a of fresh.attributes) {
        if (old.getAttributeNS(a.namespaceURI, a.localName) !== a.value) {
          old.setAttributeNS(a.namespaceURI, a.name, a.value);
        }
      }
      if (wasNew) old.classList.add('card--new');
    }

    function markNew(node) {
      if (node.nodeType !== 1) return;
      const cards = Array.from(node.querySelectorAll('.card'));
      if (node.classList.contains('card')) cards.push(node);
      for (const c of cards) {
        c.classList.add('card--new');
        setTimeout(() => c.classList.remove('card--new'), NEW_CARD_MS);
      }
      // Once arrivals have settled, fit again: the layout may loosen.
      if (cards.length) setTimeout(onSettled, NEW_CARD_MS + 50);
    }

    return { apply };
  }

  return { create, FIELDS };
})();
