// Starts Swagger UI on the document named by #swagger-ui's data-url. A file of its own, not an
// inline script, so the page's Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // no badge fetched from the public validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    persistAuthorization: false,
  });
});
