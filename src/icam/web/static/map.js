// The project map: boundaries, parcels by compliance, alerts by priority, risk and loss pictures.
// Everything comes from this server (no tiles from the internet): it works on a LAN with no connection.
(function () {
  "use strict";
  const el = document.getElementById("map");
  if (!el) return;
  const d = el.dataset;
  const map = L.map(el, { preferCanvas: true });
  map.setView([-5.8, -77.3], 9);
  L.control.scale({ metric: true, imperial: false }).addTo(map);
  const North = L.Control.extend({
    onAdd: function () {
      const div = L.DomUtil.create("div", "north-arrow");
      div.title = d.labelNorth;
      div.textContent = "▲ " + d.labelNorth;
      return div;
    },
  });
  new North({ position: "topright" }).addTo(map);
  const overlays = {};
  const layers = L.control.layers(null, overlays, { collapsed: window.innerWidth < 700 }).addTo(map);
  const statusColour = { compliant: "#1a9850", to_verify: "#fdae61", breach: "#d73027", not_in_force: "#999999" };
  const priorityColour = { high: "#d7191c", medium: "#fdae61", low: "#2c7bb6" };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(url + ": " + r.status); return r.json(); });
  }
  function text(tag, value) { const e = document.createElement(tag); e.textContent = value; return e; }

  getJSON("/map/boundaries.geojson").then(function (fc) {
    const layer = L.geoJSON(fc, {
      style: function (f) {
        return f.properties.zone === "project_area" ? { color: "#14532d", weight: 2, fill: false }
          : { color: "#7c3aed", weight: 1.5, dashArray: "6 4", fill: false };
      },
    }).addTo(map);
    layers.addOverlay(layer, d.labelProject + " / " + d.labelBelt);
    if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
  }).catch(function () {});

  ["risk", "loss"].forEach(function (name) {
    getJSON("/map/rasters/" + name + ".json").then(function (legend) {
      const picture = L.imageOverlay("/map/rasters/" + name + ".png", legend.bounds, { opacity: 0.75 });
      layers.addOverlay(picture, name === "risk" ? d.labelRisk : d.labelLoss);
      picture.on("add", function () {
        const li = document.getElementById("raster-legend");
        li.textContent = "";
        const ramp = document.createElement("span");
        ramp.className = "ramp";
        ramp.style.background = "linear-gradient(to right, " + legend.colours.join(", ") + ")";
        li.append(text("span", legend.min.toPrecision(3) + " "), ramp, text("span", " " + legend.max.toPrecision(3) + " · " + legend.meaning));
      });
    }).catch(function () {});
  });

  if (d.parcels) {
    getJSON("/map/parcels.geojson").then(function (fc) {
      const layer = L.geoJSON(fc, {
        style: function (f) {
          const c = statusColour[f.properties.status] || "#666666";
          return { color: c, weight: 1, fillColor: c, fillOpacity: 0.5 };
        },
        onEachFeature: function (f, l) {
          l.bindPopup(f.properties.agreement_id + " · " + f.properties.status + " · " + f.properties.area_ha + " ha");
        },
      }).addTo(map);
      layers.addOverlay(layer, d.labelParcels);
    }).catch(function () {});
  }

  function alertPopup(p) {
    const box = document.createElement("div");
    box.className = "alert-popup";
    box.append(text("strong", p.alert_id), document.createElement("br"),
      text("span", p.priority + " · " + p.status + " · " + p.area_ha.toFixed(2) + " ha · " + p.first_date));
    if (d.canAssign && p.status === "new") {
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/enforcement/assign";
      [["csrf_token", d.csrf], ["alert_ids", p.alert_id], ["start", d.today], ["days", "1"]].forEach(function (kv) {
        const input = document.createElement("input");
        input.type = "hidden"; input.name = kv[0]; input.value = kv[1];
        form.append(input);
      });
      const button = text("button", d.labelAssign);
      button.type = "submit";
      form.append(button);
      box.append(form);
    }
    const link = text("a", d.labelOpen);
    link.href = "/enforcement#alert-" + p.alert_id;
    box.append(link);
    return box;
  }

  if (d.alerts) {
    // Alerts as SVG (the map's other layers are on canvas), so each marker is an element with its classes, in a
    // pane above the parcels' canvas that lets clicks beside the markers through to the parcels.
    const alertPane = map.createPane("alerts");
    alertPane.style.zIndex = 450;
    alertPane.style.pointerEvents = "none";
    const alertRenderer = L.svg({ pane: "alerts" });
    getJSON("/api/v1/alerts").then(function (fc) {
      fc.features.reverse(); // the API lists the most urgent first: draw them last, on top
      const layer = L.geoJSON(fc, {
        pointToLayer: function (f, latlng) {
          const p = f.properties;
          const checked = p.status === "checked";
          return L.circleMarker(latlng, {
            radius: p.priority === "high" ? 7 : 5, weight: 1, color: "#222222",
            fillColor: checked ? "#bbbbbb" : priorityColour[p.priority] || "#888888", fillOpacity: 0.9,
            className: "alert-marker alert-" + p.alert_id, renderer: alertRenderer,
          });
        },
        onEachFeature: function (f, l) { l.bindPopup(function () { return alertPopup(f.properties); }); },
      }).addTo(map);
      layers.addOverlay(layer, d.labelAlerts);
    }).catch(function () {});
  }
})();
