// Draws each <figure class="chart"> from the Vega-Lite specification inside it (Vega-Embed from
// the pinned vl-convert-python bundle: nothing is fetched from outside the host).
(function () {
  var options = JSON.parse(document.getElementById("embed-options").textContent);
  document.querySelectorAll("figure.chart").forEach(function (figure) {
    var spec = JSON.parse(figure.querySelector("script").textContent);
    var target = document.createElement("div");
    figure.appendChild(target);
    window.vegaEmbed(target, spec, options).catch(function (error) {
      target.textContent = String(error);
    });
  });
})();
