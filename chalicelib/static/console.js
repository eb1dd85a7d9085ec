/* The staff console (GET /console): sign-in against the staff user pool with SRP, the
   challenges Cognito may ask (a new password, TOTP set-up, a TOTP code), then the areas the
   signed-in person's roles may use (each a console-<area>.js that calls
   IlopisteConsole.register({id, roles, label: {fi, en}, start(kit)})), over the JSON API with
   the ID token.

   Tokens live only in this closure (the Cognito library gets an in-memory Storage): nothing in
   web storage or cookies, and a reload means signing in again. The ID token is
   refreshed (REFRESH_TOKEN_AUTH) a minute before it expires; when that fails, back to the
   sign-in with a message. Sign-out revokes the session (GlobalSignOut) and forgets it.
   Every rule is the API's: this page only shows what the API answers, in the page's language.
   No inline script or style, and no markup parsed from data: elements are built with the DOM API. */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      signInTitle: "Kirjaudu sisään",
      username: "Käyttäjätunnus",
      password: "Salasana",
      signIn: "Kirjaudu",
      newPasswordTitle: "Vaihda salasana",
      newPasswordIntro: "Kirjaudut ensimmäistä kertaa. Valitse oma salasana (vähintään 12 merkkiä: iso ja pieni kirjain, numero ja erikoismerkki).",
      newPassword: "Uusi salasana",
      newPasswordAgain: "Uusi salasana uudelleen",
      change: "Vaihda salasana",
      mismatch: "Salasanat eivät ole samat.",
      mfaSetupTitle: "Ota kaksivaiheinen tunnistautuminen käyttöön",
      mfaSetupIntro: "Lisää tili todennussovellukseen (esim. Google Authenticator tai Microsoft Authenticator) avaamalla linkki tai syöttämällä salainen avain. Kirjoita sitten sovelluksen näyttämä kuusinumeroinen koodi.",
      secret: "Salainen avain",
      openInApp: "Avaa todennussovelluksessa",
      code: "Kuusinumeroinen koodi",
      confirm: "Vahvista",
      totpTitle: "Kaksivaiheinen tunnistautuminen",
      totpIntro: "Kirjoita todennussovelluksen näyttämä koodi.",
      signedInAs: "Kirjautunut: {user}",
      areas: "Osiot",
      noArea: "Tunnuksellesi ei ole tässä työpöydässä mitään. Ota yhteyttä ylläpitoon.",
      more: "Näytä lisää",
      noneYet: "Tähän mennessä luetuista ei löytynyt mitään. Hae lisää.",
      signOut: "Kirjaudu ulos",
      signedOut: "Olet kirjautunut ulos.",
      expired: "Istunto päättyi. Kirjaudu uudelleen.",
      loading: "Ladataan…",
      errors: {
        NotAuthorizedException: "Väärä käyttäjätunnus tai salasana.",
        UserNotFoundException: "Väärä käyttäjätunnus tai salasana.",
        CodeMismatchException: "Koodi ei kelpaa. Kirjoita sovelluksen nyt näyttämä koodi.",
        EnableSoftwareTokenMFAException: "Koodi ei kelpaa. Kirjoita sovelluksen nyt näyttämä koodi.",
        InvalidPasswordException: "Salasana ei täytä vaatimuksia (vähintään 12 merkkiä: iso ja pieni kirjain, numero ja erikoismerkki).",
        ExpiredCodeException: "Koodi on vanhentunut. Kirjaudu uudelleen.",
        TooManyRequestsException: "Liian monta yritystä. Odota hetki ja yritä uudelleen.",
        LimitExceededException: "Liian monta yritystä. Odota hetki ja yritä uudelleen.",
        network: "Yhteys ei onnistunut. Yritä uudelleen.",
        unsupported: "Tätä tunnistautumistapaa ei tueta. Ota yhteyttä ylläpitoon.",
        unauthorized: "Istunto ei ole voimassa. Kirjaudu uudelleen.",
        forbidden: "Sinulla ei ole oikeutta tähän.",
        not_found: "Tietoa ei löytynyt.",
        validation_failed: "Tiedot eivät kelpaa: {detail}",
        invalid_json: "Pyyntö ei kelpaa.",
        conflict: "Tieto on muuttunut tai toiminto ei ole nyt mahdollinen: {detail}",
        precondition_failed: "Tieto on muuttunut välillä. Avaa se uudelleen.",
        legal_hold: "Tieto on pidätetty (säilytysvelvoite tai henkilön pyytämä rajoitus, jolla tiedot säilytetään): sitä ei voi poistaa ennen kuin pidätys poistetaan.",
        service_unavailable: "Palvelu ei juuri nyt vastaa. Yritä hetken päästä uudelleen.",
        other: "Virhe ({code}). Yritä uudelleen.",
      },
      // Codes the API answers with, shared by several areas (kit.label(group, code)).
      runStates: { received: "vastaanotettu", running: "käynnissä", done: "valmis", failed: "epäonnistui" },
      runCounts: {
        rows: "rivejä",
        inserted: "lisätty",
        updated: "päivitetty",
        unchanged: "ennallaan",
        reverified: "vahvistettu ajantasaiseksi",
        rejected: "hylätty",
        removed: "poistettu",
        kept_other_source: "säilytetty (muu lähde)",
        kept_staff_verified: "säilytetty (henkilöstö vahvistanut)",
        held: "säilytetty (oikeudellinen pito)",
      },
      rejectReasons: {
        no_organisation: "organisaatio puuttuu",
        missing_email: "sähköpostiosoite puuttuu",
        invalid_email: "sähköpostiosoite ei kelpaa",
        free_mail_domain: "yksityinen sähköpostiosoite (ei organisaation osoite)",
        missing_name: "nimi puuttuu",
        invalid_field: "arvo ei kelpaa: {field}",
        not_imported: "henkilö on kieltänyt markkinoinnin",
        erased_on_request: "henkilön tiedot on poistettu hänen pyynnöstään",
        restricted: "käsittely on rajoitettu",
        duplicate_in_file: "sama henkilö on tiedostossa jo aiemmin",
        changed_meanwhile: "tieto muuttui tuonnin aikana",
      },
      rejectedRows: {
        line: "Rivi",
        reason: "Syy",
        field: "Kenttä",
        none: "Yhtään riviä ei hylätty.",
        firstLine: "ensimmäinen rivillä {line}",
        fields: { organization: "organisaatio", contact_name: "nimi", title: "titteli", email: "sähköposti", phone: "puhelin" },
      },
      auditActions: {
        create: "lisätty",
        read: "luettu",
        list: "luettelossa",
        search: "haettu",
        update: "korjattu",
        verify: "vahvistettu ajantasaiseksi",
        delete: "poistettu",
        erase: "poistettu (henkilötiedot)",
        export: "viety (pääsyoikeus)",
        restrict: "käsittely rajoitettu",
        lift_restriction: "rajoitus poistettu",
        legal_hold_set: "säilytysvelvoite asetettu",
        legal_hold_lifted: "säilytysvelvoite poistettu",
        end_contract: "sopimus päätetty",
        reactivate: "aktivoitu uudelleen",
        materialise: "kohderyhmässä",
        email: "sähköposti lähetetty",
        send: "lähetetty",
        notify: "ilmoitettu",
      },
    },
    en: {
      signInTitle: "Sign in",
      username: "Username",
      password: "Password",
      signIn: "Sign in",
      newPasswordTitle: "Change your password",
      newPasswordIntro: "This is your first sign-in. Choose your own password (at least 12 characters: upper and lower case, a number and a symbol).",
      newPassword: "New password",
      newPasswordAgain: "New password again",
      change: "Change password",
      mismatch: "The passwords differ.",
      mfaSetupTitle: "Set up two-step verification",
      mfaSetupIntro: "Add the account to an authenticator app (e.g. Google Authenticator or Microsoft Authenticator) by opening the link or entering the secret key. Then type the six-digit code the app shows.",
      secret: "Secret key",
      openInApp: "Open in an authenticator app",
      code: "Six-digit code",
      confirm: "Confirm",
      totpTitle: "Two-step verification",
      totpIntro: "Type the code your authenticator app shows.",
      signedInAs: "Signed in as {user}",
      areas: "Sections",
      noArea: "There is nothing in this console for your account. Contact the administrators.",
      more: "Show more",
      noneYet: "Nothing found among the records read so far. Search further.",
      signOut: "Sign out",
      signedOut: "You have signed out.",
      expired: "Your session ended. Please sign in again.",
      loading: "Loading…",
      errors: {
        NotAuthorizedException: "Wrong username or password.",
        UserNotFoundException: "Wrong username or password.",
        CodeMismatchException: "The code is not valid. Type the code the app shows now.",
        EnableSoftwareTokenMFAException: "The code is not valid. Type the code the app shows now.",
        InvalidPasswordException: "The password does not meet the requirements (at least 12 characters: upper and lower case, a number and a symbol).",
        ExpiredCodeException: "The code has expired. Please sign in again.",
        TooManyRequestsException: "Too many attempts. Wait a moment and try again.",
        LimitExceededException: "Too many attempts. Wait a moment and try again.",
        network: "Could not connect. Please try again.",
        unsupported: "This sign-in method is not supported. Contact the administrators.",
        unauthorized: "Your session is not valid. Please sign in again.",
        forbidden: "You may not do this.",
        not_found: "Not found.",
        validation_failed: "The data is not valid: {detail}",
        invalid_json: "The request is not valid.",
        conflict: "The record has changed or this cannot be done now: {detail}",
        precondition_failed: "The record changed meanwhile. Open it again.",
        legal_hold: "The record is held (a legal hold, or a restriction the person asked for to keep the data): it cannot be deleted until that is lifted.",
        service_unavailable: "The service is not answering just now. Try again shortly.",
        other: "Error ({code}). Please try again.",
      },
      runStates: { received: "received", running: "running", done: "done", failed: "failed" },
      runCounts: {
        rows: "rows",
        inserted: "added",
        updated: "updated",
        unchanged: "unchanged",
        reverified: "confirmed current",
        rejected: "rejected",
        removed: "removed",
        kept_other_source: "kept (another source)",
        kept_staff_verified: "kept (verified by staff)",
        held: "kept (legal hold)",
      },
      rejectReasons: {
        no_organisation: "no organisation",
        missing_email: "no email address",
        invalid_email: "the email address is not valid",
        free_mail_domain: "a private email address (not the organisation's)",
        missing_name: "no name",
        invalid_field: "not a valid value: {field}",
        not_imported: "the person has objected to marketing",
        erased_on_request: "the person's data was erased at their request",
        restricted: "processing is restricted",
        duplicate_in_file: "the same person is earlier in the file",
        changed_meanwhile: "the record changed during the import",
      },
      rejectedRows: {
        line: "Line",
        reason: "Reason",
        field: "Field",
        none: "No row was rejected.",
        firstLine: "first on line {line}",
        fields: { organization: "organisation", contact_name: "name", title: "title", email: "email", phone: "phone" },
      },
      auditActions: {
        create: "created",
        read: "read",
        list: "listed",
        search: "found by search",
        update: "corrected",
        verify: "confirmed current",
        delete: "deleted",
        erase: "erased (personal data)",
        export: "exported (access request)",
        restrict: "processing restricted",
        lift_restriction: "restriction lifted",
        legal_hold_set: "legal hold set",
        legal_hold_lifted: "legal hold lifted",
        end_contract: "contract ended",
        reactivate: "re-activated",
        materialise: "in a campaign audience",
        email: "email sent",
        send: "sent",
        notify: "notified",
      },
    },
  };

  const REFRESH_BEFORE_MS = 60 * 1000;
  const EMPTY_PAGES_FOLLOWED = 20;
  const listGenerations = new WeakMap(); // box → the newest pagedTable shown in it

  const root = document.getElementById("console");
  // The page's language; the switch in the header changes it in place while signed in.
  let lang = document.documentElement.lang === "en" ? "en" : "fi";
  let T = TEXT[lang];
  const configUrl = new URL(root.dataset.config, document.baseURI);
  const apiBase = new URL("..", configUrl);
  const Cognito = window.IlopisteCognito;

  // The Cognito library's Storage: this closure's memory only.
  const memory = new Map();
  const storage = {
    setItem: (key, value) => memory.set(key, String(value)),
    getItem: (key) => (memory.has(key) ? memory.get(key) : null),
    removeItem: (key) => memory.delete(key),
    clear: () => memory.clear(),
  };

  let pool = null;
  let user = null;
  let session = null;
  let refreshTimer = null;
  let totpSecret = "";
  let current = null;
  const areas = [];

  // What an area script gets: the page's language and texts, the builders and the API.
  // `register` must be called while the scripts load (they come after this one).
  window.IlopisteConsole = Object.freeze({
    register(area) {
      if (!area.id || !area.roles || !area.label || typeof area.start !== "function") throw new Error("bad area");
      areas.push(area);
    },
  });

  // -- building the page ----------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        el.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return el;
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, key) => (values[key] === undefined ? "" : String(values[key])));
  }

  const messages = { alert: h("p", { role: "alert", class: "message error" }), status: h("p", { role: "status", class: "message" }) };

  function say(text) {
    messages.alert.textContent = "";
    messages.status.textContent = text || "";
  }

  function fail(text) {
    messages.status.textContent = "";
    messages.alert.textContent = text || "";
  }

  function show(title, ...content) {
    const heading = h("h2", { tabindex: "-1", id: "screen" }, title);
    messages.alert.textContent = "";
    messages.status.textContent = "";
    root.replaceChildren(topBar(), heading, messages.alert, messages.status, ...content.filter(Boolean));
    heading.focus();
  }

  function field(id, label, attrs) {
    return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
  }

  function form(onsubmit, ...content) {
    return h("form", {
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const sent = event.target;
        const busy = sent.querySelectorAll("button[type=submit]");
        if ([...busy].some((b) => b.disabled)) return;
        // A handler that answers with its promise keeps the form's buttons off until it
        // settles: a double click does not upload a file, or send a list, twice.
        const result = onsubmit(new FormData(sent));
        if (result && typeof result.then === "function") {
          busy.forEach((b) => (b.disabled = true));
          Promise.resolve(result)
            .catch(() => {})
            .then(() => busy.forEach((b) => (b.disabled = false)));
        }
      },
    }, ...content);
  }

  // A step's button: off while `run()`'s promise is pending (a double click does one step).
  // With `confirm` (a text), the first click only offers a second, explicit button of that
  // text: for a step that cannot be undone.
  function action(text, run, { secondary = false, confirm = null } = {}) {
    const act = (button) => {
      if (button.disabled) return;
      const result = run();
      if (result && typeof result.then === "function") {
        button.disabled = true;
        Promise.resolve(result)
          .catch(() => {})
          .then(() => (button.disabled = false));
      }
    };
    const button = h("button", {
      type: "button",
      class: secondary ? "secondary" : null,
      onclick: () => {
        if (!confirm) return act(button);
        const sure = h("button", { type: "button", class: "danger", onclick: () => act(sure) }, confirm);
        button.replaceWith(sure);
        sure.focus();
        return undefined;
      },
    }, text);
    return button;
  }

  function topBar() {
    if (!session) return h("div", { hidden: true });
    const mine = myAreas();
    return h(
      "div",
      { class: "console-bar" },
      mine.length > 1
        ? h(
            "nav",
            { "aria-label": T.areas },
            h(
              "ul",
              { class: "console-areas" },
              mine.map((area) =>
                h(
                  "li",
                  {},
                  h(
                    "button",
                    {
                      type: "button",
                      class: "secondary",
                      "aria-current": area.id === current ? "page" : null,
                      onclick: () => openArea(area.id),
                    },
                    area.label[lang],
                  ),
                ),
              ),
            ),
          )
        : null,
      h("p", {}, fill(T.signedInAs, { user: claims().username })),
      h("button", { type: "button", class: "secondary", onclick: signOut }, T.signOut),
    );
  }

  // -- areas: each screen family is its own script (console-<area>.js) ------------------------

  // Every role a principal may have, as the API derives it (chalicelib/auth.py): a partner's
  // kind comes from its custom:partner_type attribute.
  function rolesOf(payload) {
    const groups = payload["cognito:groups"] || [];
    const roles = groups.filter((g) => g === "staff" || g === "dpo");
    if (groups.includes("partner")) {
      const kind = payload["custom:partner_type"];
      roles.push(kind === "reseller" ? "reseller" : kind === "marketing" ? "marketing" : "partner");
    }
    return roles;
  }

  function myAreas() {
    const roles = claims().roles;
    return areas.filter((area) => area.roles.some((role) => roles.includes(role)));
  }

  // An id names one area among the caller's own: the marketing partner's "campaigns" and
  // staff's "campaigns" are different scripts for different roles.
  function openArea(id) {
    const area = myAreas().find((a) => a.id === id);
    current = id;
    area.start(kit);
  }

  // -- Cognito --------------------------------------------------------------------------

  function cognitoError(err) {
    if (!err) return T.errors.other.replace("{code}", "?");
    if (err.code && T.errors[err.code]) return T.errors[err.code];
    if (err.name === "TypeError" || err.code === "NetworkError") return T.errors.network;
    return fill(T.errors.other, { code: err.code || err.name || "?" });
  }

  function claims() {
    const payload = session.getIdToken().payload;
    return {
      username: payload["cognito:username"] || "",
      groups: payload["cognito:groups"] || [],
      roles: rolesOf(payload),
      partnerId: payload["custom:partner_id"] || "",
      exp: payload.exp,
    };
  }

  function flow() {
    return {
      onSuccess: (result) => signedIn(result),
      onFailure: (err) => signInScreen(cognitoError(err), true),
      newPasswordRequired: () => newPasswordScreen(),
      mfaSetup: () => user.associateSoftwareToken(associate()),
      totpRequired: () => totpScreen(),
      mfaRequired: () => signInScreen(T.errors.unsupported, true),
      selectMFAType: () => user.sendMFASelectionAnswer("SOFTWARE_TOKEN_MFA", flow()),
      customChallenge: () => signInScreen(T.errors.unsupported, true),
    };
  }

  function associate() {
    return {
      associateSecretCode: (secret) => {
        totpSecret = secret;
        mfaSetupScreen();
      },
      onFailure: (err) => signInScreen(cognitoError(err), true),
    };
  }

  function signIn(data) {
    const username = String(data.get("username") || "").trim();
    const password = String(data.get("password") || "");
    forget();
    user = new Cognito.CognitoUser({ Username: username, Pool: pool, Storage: storage });
    user.setAuthenticationFlowType("USER_SRP_AUTH");
    say(T.loading);
    user.authenticateUser(new Cognito.AuthenticationDetails({ Username: username, Password: password }), flow());
  }

  function signedIn(result) {
    session = result;
    totpSecret = "";
    scheduleRefresh();
    const mine = myAreas();
    if (mine.length) openArea(mine[0].id);
    else show(T.signInTitle, h("p", {}, T.noArea));
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    const expiresAt = session.getIdToken().getExpiration() * 1000;
    const wait = Math.max(expiresAt - Date.now() - REFRESH_BEFORE_MS, 5000);
    refreshTimer = setTimeout(refresh, wait);
  }

  function refresh() {
    if (!session || !user) return;
    user.refreshSession(session.getRefreshToken(), (err, renewed) => {
      if (err || !renewed) {
        expire();
        return;
      }
      session = renewed;
      scheduleRefresh();
    });
  }

  function forget() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    session = null;
    totpSecret = "";
    if (user) user.signInUserSession = null;
    user = null;
    memory.clear();
  }

  function expire() {
    forget();
    signInScreen(T.expired, false);
  }

  function signOut() {
    const leaving = user;
    const done = () => {
      forget();
      signInScreen(T.signedOut, false);
    };
    if (!leaving || !session) return done();
    leaving.globalSignOut({ onSuccess: done, onFailure: done });
  }

  // -- the sign-in screens ----------------------------------------------------------------

  function signInScreen(message, isError) {
    if (isError) forget();
    show(
      T.signInTitle,
      form(
        signIn,
        field("username", T.username, { autocomplete: "username", required: true, autocapitalize: "none" }),
        field("password", T.password, { type: "password", autocomplete: "current-password", required: true }),
        h("button", { type: "submit" }, T.signIn),
      ),
    );
    if (isError) fail(message);
    else say(message || "");
  }

  function newPasswordScreen() {
    show(
      T.newPasswordTitle,
      h("p", {}, T.newPasswordIntro),
      form(
        (data) => {
          const first = String(data.get("new-password") || "");
          if (first !== String(data.get("new-password-again") || "")) return fail(T.mismatch);
          say(T.loading);
          user.completeNewPasswordChallenge(first, {}, flow());
        },
        field("new-password", T.newPassword, { type: "password", autocomplete: "new-password", required: true }),
        field("new-password-again", T.newPasswordAgain, { type: "password", autocomplete: "new-password", required: true }),
        h("button", { type: "submit" }, T.change),
      ),
    );
  }

  function codeField() {
    return field("code", T.code, {
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6}",
      maxlength: "6",
      required: true,
    });
  }

  function mfaSetupScreen() {
    const label = `Ilopiste:${user.getUsername()}`;
    const link = `otpauth://totp/${encodeURIComponent(label)}?secret=${encodeURIComponent(totpSecret)}&issuer=Ilopiste`;
    show(
      T.mfaSetupTitle,
      h("p", {}, T.mfaSetupIntro),
      h("dl", {}, h("dt", {}, T.secret), h("dd", {}, h("code", { id: "totp-secret" }, totpSecret))),
      h("p", {}, h("a", { href: link, id: "totp-link" }, T.openInApp)),
      form(
        (data) => {
          say(T.loading);
          user.verifySoftwareToken(String(data.get("code") || "").trim(), "Ilopiste", {
            onSuccess: (result) => {
              // The set-up as a challenge (MFA ON) answers with the session; signed in already
              // (MFA optional), it answers with the status only.
              const done = result && result.getIdToken ? result : user.getSignInUserSession();
              if (!done) return signInScreen(T.expired, false);
              session = done;
              user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, (err) => {
                if (err) return fail(cognitoError(err));
                signedIn(done);
              });
            },
            onFailure: (err) => fail(cognitoError(err)),
          });
        },
        codeField(),
        h("button", { type: "submit" }, T.confirm),
      ),
    );
  }

  function totpScreen() {
    show(
      T.totpTitle,
      h("p", {}, T.totpIntro),
      form(
        (data) => {
          say(T.loading);
          const callbacks = flow();
          callbacks.onFailure = (err) => fail(cognitoError(err));
          user.sendMFACode(String(data.get("code") || "").trim(), callbacks, "SOFTWARE_TOKEN_MFA");
        },
        codeField(),
        h("button", { type: "submit" }, T.confirm),
      ),
    );
  }

  // -- the API ----------------------------------------------------------------------------

  // The error `api`, `download` and `send` throw for a refused call: the API's code and text.
  function refusal(response, data) {
    const error = (data && data.error) || {};
    const err = new Error(error.code || String(response.status));
    err.code = error.code || (response.status === 401 ? "unauthorized" : "other");
    err.detail = error.message || "";
    err.status = response.status;
    return err;
  }

  // The session a call starts in: an answer that arrives after sign-out (or expiry) is
  // dropped, never drawn over the sign-in screen; apiError ignores the `signed_out` error.
  function signedOut() {
    const err = new Error("signed_out");
    err.code = "signed_out";
    return err;
  }

  function bearer(started) {
    if (!started || started !== session) throw signedOut();
    return `Bearer ${started.getIdToken().getJwtToken()}`;
  }

  // One call that answers JSON, with the session's token: `body` sent as it is, as `type`.
  async function request(method, path, body, type) {
    const started = session;
    const response = await fetch(new URL(path, apiBase), {
      method,
      headers: { Accept: "application/json", Authorization: bearer(started), ...(type ? { "Content-Type": type } : {}) },
      body,
      cache: "no-store",
      credentials: "omit",
    });
    const data = await response.json().catch(() => null);
    if (started !== session) throw signedOut();
    if (!response.ok) throw refusal(response, data);
    return data;
  }

  function api(method, path, body) {
    return body === undefined ? request(method, path) : request(method, path, JSON.stringify(body), "application/json");
  }

  function apiError(err) {
    if (err.code === "signed_out") return undefined;
    if (err.status === 401) return expire();
    if (err.name === "TypeError") return fail(T.errors.network);
    const text = T.errors[err.code] || T.errors.other;
    fail(fill(text, { code: err.code, detail: err.detail }));
  }

  // A file the API answers (GET `path` with the ID token) saved as a download: its name from
  // Content-Disposition, else `fallbackName`. `Accept: */*` because API Gateway returns a
  // binary body only to a client that accepts it. The bytes go through a Blob object URL and a
  // temporary <a download> (a navigation, which the CSP does not restrict), revoked soon
  // after. Resolves to the file's name; an error is thrown as `api` throws it.
  async function download(path, fallbackName) {
    const started = session;
    const response = await fetch(new URL(path, apiBase), {
      method: "GET",
      headers: { Accept: "*/*", Authorization: bearer(started) },
      cache: "no-store",
      credentials: "omit",
    });
    if (started !== session) throw signedOut();
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw refusal(response, data);
    }
    const disposition = response.headers.get("Content-Disposition") || "";
    const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
    const plain = /filename="?([^";]+)"?/i.exec(disposition);
    let name = plain ? plain[1].trim() : fallbackName;
    try {
      if (encoded) name = decodeURIComponent(encoded[1].trim());
    } catch (_) {
      // A malformed encoded name: the plain one (or the fallback) stays.
    }
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    try {
      link.click();
    } finally {
      link.remove();
      // The download reads the URL after the click returns: revoked once it surely has.
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }
    return name;
  }

  // A File or Blob sent as the request body (`method` `path`) with its own media type (or
  // application/octet-stream when it has none) and the ID token; the JSON answer, or an
  // error thrown as `api` throws it.
  function send(method, path, file) {
    return request(method, path, file, file.type || "application/octet-stream");
  }


  // A handler for an area's API errors: a refusal whose code is in the area's `table` in its
  // words (`{detail}` filled in), anything else (and 401: the session) as apiError says it.
  function refusals(table) {
    return (err) => {
      const own = err && err.status && err.status !== 401 && Object.hasOwn(table, err.code) ? table[err.code] : null;
      if (own) return fail(fill(own, { detail: err.detail }));
      return apiError(err);
    };
  }

  // A paged list's "more" button at the end of `box` (the previous one removed): `next` loads
  // the next page; with no next page (`next` falsy) there is no button.
  function more(box, next) {
    box.querySelector(".more")?.remove();
    if (!next) return;
    // One click, one page: the button goes as it is used (the next page brings a new one).
    const button = h("button", {
      type: "button",
      class: "more secondary",
      onclick: () => {
        button.remove();
        next();
      },
    }, T.more);
    box.append(button);
  }

  // A paged list in `box`: a table with `columns` (header texts) filled page by page from
  // `load(cursor)` (a promise of {items, next_cursor}; `cursor` null for the first page), each
  // item a row from `row(item)` (a <tr>), with the "more" button while pages remain and
  // `empty` when the first page has none; `heading` (optional) goes above the table. Returns
  // a function that loads it again from the first page. API errors go to `failure` (an
  // area's own words for its refusals), else to `apiError`.
  // A filtered list (a name search) can answer a page with no items and a cursor: up to
  // EMPTY_PAGES_FOLLOWED such pages in a row are read on before the "more" button is offered.
  function pagedTable(box, { columns, load, row, empty, heading, failure }) {
    // The newest list shown in `box` wins: an older search answering late is dropped.
    const generation = (listGenerations.get(box) || 0) + 1;
    listGenerations.set(box, generation);
    const current = () => listGenerations.get(box) === generation;
    let body = null;
    const top = () => (heading ? [h("h3", {}, heading)] : []);
    // Loading is said only where nothing else is: a message the area just gave ("saved", a
    // run's end) stays while its list loads, and only "loading" is cleared when it arrives.
    const loading = () => {
      if (!messages.status.textContent) messages.status.textContent = T.loading;
    };
    const loaded = () => {
      if (messages.status.textContent === T.loading) messages.status.textContent = "";
    };
    function page(cursor, emptyInRow) {
      loading();
      return load(cursor)
        .then((data) => {
          if (!current()) return undefined;
          const items = (data && data.items) || [];
          const next = data && data.next_cursor;
          if (!items.length && next && emptyInRow < EMPTY_PAGES_FOLLOWED) return page(next, emptyInRow + 1);
          loaded();
          if (!body || !body.isConnected) {
            if (!items.length) {
              // Nothing yet: "none" only when the list has ended, else "none so far" and more.
              box.replaceChildren(...top(), h("p", {}, next ? T.noneYet : empty));
              return more(box, next && (() => page(next, 0)));
            }
            body = h("tbody");
            const head = h("thead", {}, h("tr", {}, columns.map((t) => h("th", { scope: "col" }, t))));
            box.replaceChildren(...top(), h("table", {}, head, body));
          }
          for (const item of items) body.append(row(item));
          return more(box, next && (() => page(next, 0)));
        })
        .catch((err) => (current() ? (failure || apiError)(err) : undefined));
    }
    page(null, 0);
    return () => {
      listGenerations.set(box, generation);
      body = null;
      return page(null, 0);
    };
  }

  // An import run's rejected rows from its report (`path`: the staff or the partner route),
  // page by page: the file's line, why (a duplicate with the line it repeats) and the field.
  function rejectedRows(box, path) {
    const R = T.rejectedRows;
    return pagedTable(box, {
      columns: [R.line, R.reason, R.field],
      empty: R.none,
      load: (cursor) => api("GET", `${path}?${new URLSearchParams({ limit: "50", ...(cursor ? { cursor } : {}) })}`),
      row: (row) => {
        const reason = label("rejectReasons", row.reason);
        const why = row.first_line ? `${reason} (${fill(R.firstLine, { line: row.first_line })})` : reason;
        return h("tr", {}, h("td", {}, String(row.line)), h("td", {}, why), h("td", {}, label(R.fields, row.field)));
      },
    });
  }

  // The three ways to find a record of a register (`path`: "customers" or "prospects"): by
  // organisation (GET ?q=, paged), by email, by part of the contact's name (POST …/search: in
  // the body, never in a URL or an access log). Each answer goes to `results(load)`; `words`
  // holds the labels (byOrg, search, byEmail, searchEmail, byName, searchName); field ids
  // start with `prefix`.
  function searchForms(path, prefix, words, results) {
    const value = (data, name) => String(data.get(`${prefix}-${name}`) || "").trim();
    const paged = (query) => (cursor) => api("GET", `${path}?${new URLSearchParams({ ...query, limit: "25", ...(cursor ? { cursor } : {}) })}`);
    const searched = (body) => (cursor) => api("POST", `${path}/search`, { ...body, ...(cursor ? { cursor } : {}) });
    return [
      form(
        (data) => results(paged(value(data, "q") ? { q: value(data, "q") } : {})),
        field(`${prefix}-q`, words.byOrg, { type: "search", autocomplete: "off" }),
        h("button", { type: "submit" }, words.search),
      ),
      form(
        (data) => results(searched({ email: value(data, "email") })),
        field(`${prefix}-email`, words.byEmail, { type: "email", autocomplete: "off" }),
        h("button", { type: "submit" }, words.searchEmail),
      ),
      form(
        (data) => results(searched({ name: value(data, "name") })),
        field(`${prefix}-name`, words.byName, { type: "search", autocomplete: "off", minlength: "2", maxlength: "100" }),
        h("button", { type: "submit" }, words.searchName),
      ),
    ];
  }

  // What a correction form changed: each of `names` whose trimmed value (`valueOf(name)`)
  // differs from the record's; an emptied optional field as null (the API removes it), an
  // emptied required one as "" (the API refuses it, in the page's words).
  function changes(record, names, required, valueOf) {
    const out = {};
    for (const name of names) {
      const value = String(valueOf(name) || "").trim();
      if (value === String(record[name] ?? "")) continue;
      out[name] = value === "" && !required.includes(name) ? null : value;
    }
    return out;
  }

  // Every partner in the registry (GET /partners, paged through), for pickers (staff only):
  // the API refuses a partner that may not be used; a picker only offers the likely ones.
  function partners() {
    const found = [];
    const next = (cursor) => {
      const query = new URLSearchParams({ limit: "100", ...(cursor ? { cursor } : {}) });
      return api("GET", `partners?${query}`).then((data) => {
        found.push(...(data.items || []));
        return data.next_cursor ? next(data.next_cursor) : found;
      });
    };
    return next(null);
  }

  // The page's words for a code the API answers with (`group`: runStates, runCounts,
  // rejectReasons, auditActions, or an area's own table passed as an object); an unknown code shows as
  // itself, so a code added to the API is never hidden.
  function label(group, code) {
    const table = typeof group === "string" ? T[group] || {} : group || {};
    if (code === undefined || code === null) return "";
    if (Object.hasOwn(table, code) && typeof table[code] === "string") return table[code];
    const invalid = /^invalid_(\w+)$/.exec(String(code));
    if (invalid && table.invalid_field) return fill(table.invalid_field, { field: invalid[1] });
    return String(code);
  }

  // Counts as "label: n, …" in the page's words.
  function counts(values) {
    return Object.entries(values || {})
      .map(([key, n]) => `${label("runCounts", key)}: ${n}`)
      .join(", ");
  }

  // What an area gets: made again when the language changes (the areas bind it on start).
  const makeKit = () => Object.freeze({
    lang,
    T,
    apiBase,
    h,
    fill,
    say,
    fail,
    show,
    field,
    form,
    action,
    more,
    pagedTable,
    searchForms,
    rejectedRows,
    changes,
    partners,
    label,
    counts,
    api,
    apiError,
    refusals,
    download,
    send,
    claims,
  });
  let kit = makeKit();

  // -- the language switch ------------------------------------------------------------------

  // Following the header's language link would load the page again and lose the session
  // (tokens live only in this closure). Signed in, the page in the other language is fetched
  // instead (which also remembers the choice in the `lang` cookie, as the link would), its
  // frame (title, header, heading, footer) replaces this one's, and the area opens again in
  // the new language. Signed out, the link works as on every public page.
  function switchLanguage(to, href) {
    if (to === lang || !TEXT[to]) return;
    fetch(href, { headers: { Accept: "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then((response) => {
        // Only this site's own console page is parsed (DOMParser runs no script; the CSP
        // would refuse an inline one anyway).
        const type = response.headers.get("Content-Type") || "";
        if (!response.ok || new URL(response.url).origin !== location.origin || !type.startsWith("text/html")) {
          throw new TypeError("language switch");
        }
        return response.text();
      })
      .then((markup) => {
        const page = new DOMParser().parseFromString(markup, "text/html");
        for (const selector of ["a.skip", "header.site", "main > h1", "footer.site"]) {
          const fresh = page.querySelector(selector);
          const old = document.querySelector(selector);
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        }
        document.title = page.title;
        document.documentElement.lang = to;
        history.replaceState(history.state, "", href);
        lang = to;
        T = TEXT[lang];
        kit = makeKit();
        messages.alert.textContent = "";
        return true;
      })
      .then(
        (switched) => {
          if (!switched || !session) return;
          if (current) openArea(current);
          else show(T.signInTitle, h("p", {}, T.noArea));
        },
        () => fail(T.errors.network),
      );
  }

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("nav.langs a[hreflang]") : null;
    if (!link || !session) return;
    event.preventDefault();
    switchLanguage(link.getAttribute("hreflang"), link.href);
  });

  // -- start ------------------------------------------------------------------------------

  // The area scripts load after this one (all deferred, in order); DOMContentLoaded comes
  // after the last of them has registered.
  document.addEventListener("DOMContentLoaded", () => {
    fetch(configUrl, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "omit" })
      .then((response) => response.json())
      .then((config) => {
        pool = new Cognito.CognitoUserPool({
          UserPoolId: config.user_pool_id,
          ClientId: config.client_id,
          endpoint: `${config.cognito_endpoint}/`,
          Storage: storage,
        });
        signInScreen("", false);
      })
      .catch(() => {
        root.replaceChildren(messages.alert);
        fail(T.errors.network);
      });
  });
})();
