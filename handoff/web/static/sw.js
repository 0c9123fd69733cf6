// Baton's service worker: shows pushed notifications and opens their signed deep link.
"use strict";

self.addEventListener("install", (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let note = { title: "Baton", body: "", link: "/app/", tag: undefined };
  try {
    note = Object.assign(note, event.data ? event.data.json() : {});
  } catch (_) {
    note.body = event.data ? event.data.text() : "";
  }
  // The tag makes a re-sent copy replace the first notification instead of adding one.
  event.waitUntil(
    self.registration.showNotification(note.title, {
      body: note.body,
      tag: note.tag,
      data: { link: note.link },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const link = (event.notification.data && event.notification.data.link) || "/app/";
  event.waitUntil(self.clients.openWindow(link));
});

self.addEventListener("pushsubscriptionchange", (event) => {
  // The push service rotated the subscription: register the new one for this user.
  event.waitUntil(
    (async () => {
      const me = await fetch("/app/api/me", { credentials: "same-origin" });
      if (!me.ok) return;
      const info = await me.json();
      const sub =
        event.newSubscription ||
        (await self.registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: info.vapid_public_key,
        }));
      await fetch("/devices", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Baton-CSRF": info.csrf },
        body: JSON.stringify({ subscription: sub.toJSON(), label: "browser" }),
      });
    })()
  );
});
