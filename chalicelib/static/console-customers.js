/* The staff console's customer screens: find a customer (by organisation, or by email in a
   POST body so the address is in no URL), view one, correct it, end and re-activate its
   contract, set its services and prices, list and add its orders, and for the DPO its audit
   history. Registered with console.js, which signs in and
   lends the page builders and the API (`kit`). */
(function () {
  "use strict";

  const TEXT = {
    fi: {
      findTitle: "Etsi asiakas",
      byOrg: "Organisaation nimi",
      search: "Hae",
      byEmail: "Yhteyshenkilön sähköpostiosoite",
      searchEmail: "Hae sähköpostilla",
      results: "Hakutulokset",
      none: "Ei asiakkaita.",
      open: "Avaa",
      organization: "Organisaatio",
      business_id: "Y-tunnus",
      contact_name: "Yhteyshenkilö",
      phone: "Puhelin",
      email: "Sähköposti",
      status: "Tila",
      contract_end: "Sopimus päättyy",
      statuses: { active: "voimassa", ended: "päättynyt", erased: "poistettu" },
      back: "Takaisin hakuun",
      correctTitle: "Korjaa tietoja",
      save: "Tallenna korjaukset",
      saved: "Korjaukset tallennettu.",
      noChanges: "Ei muutoksia tallennettavaksi.",
      contractTitle: "Sopimus",
      endDate: "Päättymispäivä",
      endContract: "Päätä sopimus",
      ended: "Sopimus päätetty.",
      reactivate: "Aktivoi uudelleen",
      reactivated: "Sopimus aktivoitu uudelleen.",
      auditTitle: "Tapahtumahistoria",
      showAudit: "Näytä tapahtumahistoria",
      when: "Aika",
      action: "Tapahtuma",
      who: "Tekijä",
      fields: "Kentät",
      servicesTitle: "Palvelut",
      service: "Palvelu",
      price: "Hinta (EUR)",
      period: "Jakso",
      periods: { month: "kuukausi", year: "vuosi", once: "kertamaksu" },
      noServices: "Ei voimassa olevia palveluja.",
      endService: "Lopeta {service}",
      addService: "Lisää palvelu",
      servicesSaved: "Palvelut tallennettu.",
      ordersTitle: "Tilaukset",
      showOrders: "Näytä tilaukset",
      ordered: "Tilattu",
      lines: "Rivit",
      total: "Yhteensä",
      noOrders: "Ei tilauksia.",
      orderService: "Tilattava palvelu",
      quantity: "Määrä",
      addOrder: "Lisää tilaus",
      orderAdded: "Tilaus lisätty.",
    },
    en: {
      findTitle: "Find a customer",
      byOrg: "Organisation name",
      search: "Search",
      byEmail: "Contact person's email address",
      searchEmail: "Search by email",
      results: "Results",
      none: "No customers.",
      open: "Open",
      organization: "Organisation",
      business_id: "Business ID",
      contact_name: "Contact person",
      phone: "Phone",
      email: "Email",
      status: "Status",
      contract_end: "Contract ends",
      statuses: { active: "active", ended: "ended", erased: "erased" },
      back: "Back to search",
      correctTitle: "Correct data",
      save: "Save corrections",
      saved: "Corrections saved.",
      noChanges: "Nothing changed to save.",
      contractTitle: "Contract",
      endDate: "End date",
      endContract: "End the contract",
      ended: "Contract ended.",
      reactivate: "Re-activate",
      reactivated: "Contract re-activated.",
      auditTitle: "Audit history",
      showAudit: "Show the audit history",
      when: "Time",
      action: "Action",
      who: "By",
      fields: "Fields",
      servicesTitle: "Services",
      service: "Service",
      price: "Price (EUR)",
      period: "Period",
      periods: { month: "month", year: "year", once: "one-off" },
      noServices: "No active services.",
      endService: "End {service}",
      addService: "Add a service",
      servicesSaved: "Services saved.",
      ordersTitle: "Orders",
      showOrders: "Show the orders",
      ordered: "Ordered",
      lines: "Lines",
      total: "Total",
      noOrders: "No orders.",
      orderService: "Service to order",
      quantity: "Quantity",
      addOrder: "Add an order",
      orderAdded: "Order added.",
    },
  };

  const EDITABLE = ["organization", "business_id", "contact_name", "phone", "email"];

  let T, h, fill, say, fail, show, field, form, api, apiError, claims, apiBase, more;

  function bind(kit) {
    ({ h, fill, say, fail, show, field, form, api, apiError, claims, apiBase, more } = kit);
    T = { ...kit.T, ...TEXT[kit.lang] };
  }

  function statusText(status) {
    return T.statuses[status] || status || "";
  }

  function searchScreen(message) {
    const list = h("div", { id: "results" });
    show(
      T.findTitle,
      form(
        (data) => {
          const q = String(data.get("q") || "").trim();
          listCustomers(list, `customers?${new URLSearchParams({ q, limit: "25" })}`, true);
        },
        field("q", T.byOrg, { type: "search", autocomplete: "off" }),
        h("button", { type: "submit" }, T.search),
      ),
      form(
        (data) => {
          const email = String(data.get("search-email") || "").trim();
          say(T.loading);
          api("POST", "customers/search", { email })
            .then((page) => renderResults(list, page.items, null, true))
            .catch(apiError);
        },
        field("search-email", T.byEmail, { type: "email", autocomplete: "off" }),
        h("button", { type: "submit" }, T.searchEmail),
      ),
      list,
    );
    if (message) say(message);
  }

  function listCustomers(list, path, fresh) {
    say(T.loading);
    api("GET", path)
      .then((page) => {
        const next = page.next_cursor
          ? () => {
              const url = new URL(path, apiBase);
              url.searchParams.set("cursor", page.next_cursor);
              listCustomers(list, `customers?${url.searchParams}`, false);
            }
          : null;
        renderResults(list, page.items, next, fresh);
      })
      .catch(apiError);
  }

  function renderResults(list, items, next, fresh) {
    say("");
    let body = list.querySelector("tbody");
    if (fresh || !body) {
      body = h("tbody");
      list.replaceChildren(
        h("h3", {}, T.results),
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, [T.organization, T.contact_name, T.status, ""].map((t) => h("th", { scope: "col" }, t)))),
          body,
        ),
      );
    }
    for (const item of items) {
      body.append(
        h(
          "tr",
          {},
          h("td", {}, item.organization || ""),
          h("td", {}, item.contact_name || ""),
          h("td", {}, statusText(item.status)),
          h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => openCustomer(item.customer_id) }, T.open)),
        ),
      );
    }
    if (!body.children.length) list.replaceChildren(h("h3", {}, T.results), h("p", {}, T.none));
    more(list, next);
  }

  function openCustomer(customerId, message) {
    say(T.loading);
    api("GET", `customers/${encodeURIComponent(customerId)}`)
      .then((customer) => customerScreen(customer, message))
      .catch(apiError);
  }

  function customerScreen(customer, message) {
    const id = customer.customer_id;
    const details = h(
      "dl",
      { id: "customer" },
      [...EDITABLE, "status", "contract_end"].flatMap((name) =>
        customer[name] === undefined ? [] : [h("dt", {}, T[name]), h("dd", { "data-field": name }, name === "status" ? statusText(customer[name]) : String(customer[name]))],
      ),
    );
    const correct = form(
      (data) => {
        const changes = {};
        for (const name of EDITABLE) {
          const value = String(data.get(name) || "").trim();
          if (value !== String(customer[name] || "")) changes[name] = value;
        }
        if (!Object.keys(changes).length) return say(T.noChanges);
        say(T.loading);
        api("PATCH", `customers/${encodeURIComponent(id)}`, changes)
          .then((updated) => customerScreen(updated, T.saved))
          .catch(apiError);
      },
      ...EDITABLE.map((name) =>
        field(`edit-${name}`, T[name], { name, value: customer[name] || "", type: name === "email" ? "email" : "text", autocomplete: "off" }),
      ),
      h("button", { type: "submit" }, T.save),
    );
    const contract =
      customer.status === "active"
        ? form(
            (data) => {
              say(T.loading);
              api("POST", `customers/${encodeURIComponent(id)}/contract-end`, { end_date: String(data.get("end_date") || "") })
                .then((updated) => customerScreen(updated, T.ended))
                .catch(apiError);
            },
            field("end_date", T.endDate, { type: "date", required: true }),
            h("button", { type: "submit" }, T.endContract),
          )
        : customer.status === "ended"
          ? h(
              "p",
              {},
              h("button", {
                type: "button",
                onclick: () => {
                  say(T.loading);
                  api("POST", `customers/${encodeURIComponent(id)}/reactivation`)
                    .then((updated) => customerScreen(updated, T.reactivated))
                    .catch(apiError);
                },
              }, T.reactivate),
            )
          : null;
    const services = servicesSection(customer);
    const orders = ordersSection(customer);
    const audit = h("div", { id: "audit" });
    const isDpo = claims().groups.includes("dpo");
    show(
      customer.organization || id,
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => searchScreen() }, T.back)),
      details,
      h("section", { "aria-labelledby": "correct-title" }, h("h3", { id: "correct-title" }, T.correctTitle), correct),
      contract && h("section", { "aria-labelledby": "contract-title" }, h("h3", { id: "contract-title" }, T.contractTitle), contract),
      services,
      orders,
      isDpo &&
        h(
          "section",
          { "aria-labelledby": "audit-title" },
          h("h3", { id: "audit-title" }, T.auditTitle),
          h("button", { type: "button", class: "secondary", onclick: () => loadAudit(audit, id, null, true) }, T.showAudit),
          audit,
        ),
    );
    if (message) say(message);
  }

  // The services the customer can order, with their prices: the list is set whole
  // (PUT /customers/{id}/services), so ending one sends the list without it.
  function servicesSection(customer) {
    const id = customer.customer_id;
    const current = customer.active_services || [];
    const save = (list) => {
      say(T.loading);
      api("PUT", `customers/${encodeURIComponent(id)}/services`, { active_services: list })
        .then((updated) => customerScreen(updated, T.servicesSaved))
        .catch(apiError);
    };
    const rows = current.map((s) =>
      h(
        "tr",
        { "data-service": s.service },
        h("td", {}, s.service),
        h("td", {}, `${s.price} ${s.currency || "EUR"}`),
        h("td", {}, T.periods[s.period] || s.period || ""),
        h("td", {}, h("button", {
          type: "button",
          class: "secondary",
          onclick: () => save(current.filter((o) => o.service !== s.service)),
        }, fill(T.endService, { service: s.service }))),
      ),
    );
    const periodSelect = h(
      "p",
      { class: "field" },
      h("label", { for: "service-period" }, T.period),
      h("select", { id: "service-period", name: "service-period" }, Object.entries(T.periods).map(([value, text]) => h("option", { value }, text))),
    );
    return h(
      "section",
      { "aria-labelledby": "services-title" },
      h("h3", { id: "services-title" }, T.servicesTitle),
      rows.length
        ? h("table", { id: "services" }, h("thead", {}, h("tr", {}, [T.service, T.price, T.period, ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
        : h("p", { id: "services" }, T.noServices),
      form(
        (data) =>
          save([
            ...current,
            {
              service: String(data.get("service-name") || "").trim(),
              price: String(data.get("service-price") || "").trim(),
              period: String(data.get("service-period") || "month"),
            },
          ]),
        field("service-name", T.service, { required: true, maxlength: "100", autocomplete: "off" }),
        field("service-price", T.price, { required: true, inputmode: "decimal", autocomplete: "off" }),
        periodSelect,
        h("button", { type: "submit" }, T.addService),
      ),
    );
  }

  // Orders: listed page by page; a new one names active services and quantities (the API
  // prices them and refuses anything else, and any order once the contract has ended).
  function ordersSection(customer) {
    const id = customer.customer_id;
    const box = h("div", { id: "orders" });
    const offered = (customer.active_services || []).map((s) => s.service);
    const add =
      customer.status === "active" && offered.length
        ? form(
            (data) => {
              say(T.loading);
              const items = [{ service: String(data.get("order-service") || ""), quantity: Number(data.get("order-quantity") || 0) }];
              api("POST", `customers/${encodeURIComponent(id)}/orders`, { items })
                .then(() => {
                  say(T.orderAdded);
                  loadOrders(box, id, null, true, T.orderAdded);
                })
                .catch(apiError);
            },
            h(
              "p",
              { class: "field" },
              h("label", { for: "order-service" }, T.orderService),
              h("select", { id: "order-service", name: "order-service" }, offered.map((name) => h("option", { value: name }, name))),
            ),
            field("order-quantity", T.quantity, { type: "number", min: "1", max: "10000", value: "1", required: true }),
            h("button", { type: "submit" }, T.addOrder),
          )
        : null;
    return h(
      "section",
      { "aria-labelledby": "orders-title" },
      h("h3", { id: "orders-title" }, T.ordersTitle),
      h("button", { type: "button", class: "secondary", onclick: () => loadOrders(box, id, null, true) }, T.showOrders),
      box,
      add,
    );
  }

  function loadOrders(box, id, cursor, fresh, message) {
    say(T.loading);
    const query = new URLSearchParams({ limit: "25", ...(cursor ? { cursor } : {}) });
    api("GET", `customers/${encodeURIComponent(id)}/orders?${query}`)
      .then((page) => {
        say(message || "");
        let body = box.querySelector("tbody");
        if (fresh || !body) {
          body = h("tbody");
          box.replaceChildren(
            h("table", {}, h("thead", {}, h("tr", {}, [T.ordered, T.lines, T.total].map((t) => h("th", { scope: "col" }, t)))), body),
          );
        }
        for (const order of page.items || []) {
          body.append(
            h(
              "tr",
              { "data-order": order.order_id },
              h("td", {}, String(order.ordered_at || "")),
              h("td", {}, (order.items || []).map((l) => `${l.service} × ${l.quantity} (${l.unit_price} ${l.currency || "EUR"})`).join(", ")),
              h("td", {}, `${order.total || ""} ${order.currency || "EUR"}`),
            ),
          );
        }
        if (!body.children.length) box.replaceChildren(h("p", {}, T.noOrders));
        more(box, page.next_cursor && (() => loadOrders(box, id, page.next_cursor, false)));
      })
      .catch(apiError);
  }

  function loadAudit(box, id, cursor, fresh) {
    say(T.loading);
    const query = new URLSearchParams({ limit: "50", ...(cursor ? { cursor } : {}) });
    api("GET", `audit/records/customers/${encodeURIComponent(id)}?${query}`)
      .then((page) => {
        say("");
        let body = box.querySelector("tbody");
        if (fresh || !body) {
          body = h("tbody");
          box.replaceChildren(
            h("table", {}, h("thead", {}, h("tr", {}, [T.when, T.action, T.who, T.fields].map((t) => h("th", { scope: "col" }, t)))), body),
          );
        }
        for (const event of page.items || []) {
          body.append(
            h(
              "tr",
              {},
              h("td", {}, String(event.at || event.timestamp || "")),
              h("td", {}, String(event.action || "")),
              h("td", {}, String(event.principal_id || "")),
              h("td", {}, (event.fields || []).join(", ")),
            ),
          );
        }
        more(box, page.next_cursor && (() => loadAudit(box, id, page.next_cursor, false)));
      })
      .catch(apiError);
  }

  window.IlopisteConsole.register({
    id: "customers",
    roles: ["staff", "dpo"],
    label: { fi: "Asiakkaat", en: "Customers" },
    start(kit) {
      bind(kit);
      searchScreen();
    },
  });
})();
