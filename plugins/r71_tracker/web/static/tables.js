// Draws the tables a page lists (table[data-rows]) from the rows the page carries as JSON, as
// PostgreSQL wrote them (script#rows-<name>). The server only reads the rows: formatting
// hundreds of them in Python cost several times the query. Every value becomes a text node
// (never markup), numbers and dates are written as the page's language writes them, and links
// follow the page's patterns (routes inside Airflow, files in the static site).
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("page-data").textContent);
  var vi = page.lang === "vi";
  var numbers = new Intl.NumberFormat(vi ? "vi-VN" : "en-US", { maximumFractionDigits: 1 });

  function t(key) {
    return page.texts[key] || key;
  }
  function num(value) {
    return value === null || value === undefined ? "" : numbers.format(value);
  }
  function day(value) {
    if (!value) return "";
    var iso = value.slice(0, 10);
    return vi ? iso.slice(8, 10) + "/" + iso.slice(5, 7) + "/" + iso.slice(0, 4) : iso;
  }
  function moment(value) {
    return value ? day(value) + " " + value.slice(11, 19) + " UTC" : "";
  }
  function encode(value) {
    value = String(value);
    return page.links.encode === "file"
      ? value.replace(/[^A-Za-z0-9_.+-]/g, "_")
      : encodeURIComponent(value);
  }
  function href(kind) {
    var pattern = page.links[kind];
    if (!pattern) return null;
    var values = Array.prototype.slice.call(arguments, 1);
    return pattern.replace(/\{\}/g, function () {
      return encode(values.shift());
    });
  }
  // h("a", {href: ...}, child, ...): an element; strings become text nodes, null is skipped
  function h(tag, attributes) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (attributes[name] !== null && attributes[name] !== undefined) {
        element.setAttribute(name, attributes[name]);
      }
    });
    Array.prototype.slice.call(arguments, 2).forEach(function (child) {
      if (child === null || child === undefined || child === "") return;
      element.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return element;
  }
  function link(url, child) {
    return url ? h("a", { href: url }, child) : child;
  }
  function code(value) {
    return h("code", null, String(value));
  }
  function small() {
    return h.apply(null, ["small", null].concat(Array.prototype.slice.call(arguments)));
  }
  function pick(row, key) {
    return row[key + "_" + page.lang] || row[key + "_en"] || "";
  }
  function stage(name) {
    return name ? t("stage_" + name) : "";
  }
  // where a row is in its file: a CSV line, or a JSON entry counted from 1
  function place(format, line) {
    if (line === null || line === undefined) return "";
    return format === "json" ? t("entry") + " " + (line + 1) : t("line") + " " + line;
  }
  function fragment() {
    var holder = document.createDocumentFragment();
    Array.prototype.slice.call(arguments).forEach(function (child) {
      if (child === null || child === undefined || child === "") return;
      holder.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return holder;
  }
  function verdict(row) {
    return row.success
      ? h("span", { class: "pass" }, t("passed"))
      : h("span", { class: "fail" }, t("failed"));
  }

  // each table: its rows' cells, in the order of its header (cell: node, or [node, class])
  var TABLES = {
    duplicated: function (row) {
      var codes = (row.collecting_database_codes || "").split(", ").filter(Boolean);
      var databases = fragment();
      codes.forEach(function (databaseCode, index) {
        if (index) databases.appendChild(document.createTextNode(", "));
        databases.appendChild(link(href("database", databaseCode), databaseCode));
      });
      return [code(row.field_name), pick(row, "finding"), databases];
    },
    databases: function (row) {
      return [
        fragment(
          link(href("database", row.database_code), row.database_code),
          h("br"),
          small(pick(row, "database_name"))
        ),
        [stage(row.reported_stage), "stage " + row.reported_stage],
        [stage(row.verified_stage), "stage " + (row.verified_stage || "")],
        pick(row, "downgrade_reason"),
        fragment(
          pick(row, "risk_reason"),
          row.deadline_date ? h("br") : null,
          row.deadline_date ? small(t("deadline") + " " + day(row.deadline_date)) : null
        ),
        row.evidence_file_id === null
          ? ""
          : fragment(
              day(row.effective_report_date),
              h("br"),
              small(
                code(row.evidence_file_name),
                " ",
                link(
                  href("feed_line", row.evidence_file_id, row.evidence_line_number),
                  place(row.evidence_feed_format, row.evidence_line_number)
                )
              )
            ),
      ];
    },
    files: function (row) {
      var state = (row.file_state || row.file_status || "") +
        (row.file_reason_code ? " (" + row.file_reason_code + ")" : "");
      var judged = row.verdict
        ? t("verdict_" + row.verdict) + (row.verdict_rule ? " (" + row.verdict_rule + ")" : "")
        : "";
      return [
        fragment(code(row.original_name), " ", small("#" + row.file_id)),
        moment(row.received_at),
        [num(row.rows_received), "num"],
        [num(row.rows_loaded), "num"],
        [num(row.rows_rejected), "num"],
        state,
        judged,
      ];
    },
    timeline: function (row) {
      var evidence = row.evidence_file_id === null
        ? ""
        : fragment(
            day(row.effective_report_date) + " — #" + row.evidence_file_id + " ",
            link(
              href("feed_line", row.evidence_file_id, row.evidence_line_number),
              place(row.evidence_feed_format, row.evidence_line_number)
            )
          );
      var label = stage(row.stage) + (row.is_unreported ? " (" + t("unreported") + ")" : "");
      return [day(row.status_date), [label, "stage " + row.stage], evidence];
    },
    verified: function (row) {
      return [
        day(row.as_of_date),
        [stage(row.reported_stage), "stage " + row.reported_stage],
        [stage(row.verified_stage), "stage " + row.verified_stage],
        pick(row, "downgrade_reason"),
        moment(row.published_at),
      ];
    },
    reports: function (row) {
      return [
        day(row.report_date),
        fragment(
          code(row.original_name),
          " ",
          link(
            href("feed_line", row.file_id, row.line_number),
            place(row.feed_format, row.line_number)
          ),
          h("br"),
          small(moment(row.received_at))
        ),
        row.platform_status,
        row.data_status,
        [num(row.record_count), "num"],
        [row.notes || "", "notes"],
      ];
    },
    fields: function (row) {
      return [
        code(row.field_name),
        row.field_type,
        row.is_original_source ? t("yes") : t("no"),
        row.is_duplicated ? t("duplicated").replace("{n}", num(row.databases_collecting)) : "",
      ];
    },
    runs: function (row) {
      return [
        fragment(
          link(href("quality_run", row.run_id), code(row.run_id)),
          row.dag_run_id ? h("br") : null,
          row.dag_run_id ? small(t("dag_run") + " ", code(row.dag_run_id)) : null
        ),
        day(row.run_date),
        moment(row.finished_at),
        fragment(
          verdict(row),
          " ",
          small(
            num(row.blocking_failures) + " " + t("blocking") + ", " +
              num(row.national_failures) + " " + t("national") + ", " +
              num(row.warnings) + " " + t("warnings")
          )
        ),
        row.published_at ? moment(row.published_at) : t("not_published"),
      ];
    },
  };

  document.querySelectorAll("table[data-rows]").forEach(function (table) {
    var name = table.getAttribute("data-rows");
    var rows = JSON.parse(document.getElementById("rows-" + name).textContent);
    var body = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
    var drawn = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      TABLES[name](row).forEach(function (cell) {
        var content = Array.isArray(cell) ? cell[0] : cell;
        var td = h("td", { class: Array.isArray(cell) ? cell[1] : null }, content);
        tr.appendChild(td);
      });
      drawn.appendChild(tr);
    });
    body.appendChild(drawn);
    table.setAttribute("data-drawn", String(rows.length));
  });
})();
