import{a}from"./chunk-V3U5ZIL5.js";import"./chunk-T7UCL6GY.js";import"./chunk-WB7L67MK.js";export{a as PrivacyButton};
